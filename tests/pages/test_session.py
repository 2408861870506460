"""ui.session: one user id per browser session (kept across reruns), a proxy's user header when configured, and the
teacher token from the URL."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from ui.session import current_user, is_teacher

    st.markdown(f"user={current_user()}")
    st.markdown(f"teacher={is_teacher()}")


def _values(at: AppTest) -> dict:
    return dict(m.value.split("=", 1) for m in at.markdown)


def test_a_session_keeps_its_user_across_reruns_and_two_sessions_differ():
    one = AppTest.from_function(_script).run()
    first = _values(one)["user"]
    assert len(first) == 32 and _values(one.run())["user"] == first
    assert _values(AppTest.from_function(_script).run())["user"] != first


def test_the_teacher_token_must_match(tmp_path, monkeypatch):
    (tmp_path / "lab.toml").write_text('served = true\nteacher_token = "s3cret"\n')
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    wrong = AppTest.from_function(_script)
    wrong.query_params["teacher"] = "guess"
    assert _values(wrong.run())["teacher"] == "False"
    right = AppTest.from_function(_script)
    right.query_params["teacher"] = "s3cret"
    assert _values(right.run())["teacher"] == "True"
    assert "teacher" not in right.query_params  # taken out of the address bar at once (issue 17)
    assert _values(right.run())["teacher"] == "True"  # remembered for the session once shown


def test_no_teacher_without_a_configured_token(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "none.toml"))
    at = AppTest.from_function(_script)
    at.query_params["teacher"] = ""
    assert _values(at.run())["teacher"] == "False"
