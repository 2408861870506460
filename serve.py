"""The lab served to a room (``./lab app`` with ``served = true``; docs/classroom.md): app.py on Streamlit's ASGI
server (``st.App``), with the teacher link handled before any page sees it (ui.teacher_link: the token leaves the
address bar by a redirect that sets an HttpOnly cookie). Run it as ``streamlit run serve.py``."""
import streamlit as st
from starlette.middleware import Middleware

from ui.teacher_link import TeacherLink

app = st.App("app.py", middleware=[Middleware(TeacherLink)])
