"""The layer table: every module call of one forward pass, with shapes, parameters, multiply-adds and receptive field.

>>> import torchvision
>>> rows = layer_table(torchvision.models.resnet18(), (3, 224, 224))
>>> [r.receptive_field for r in rows if r.name in ("conv1", "layer4")]
[(7, 7), (435, 435)]

How it works: forward pre-hooks and hooks on every module record the calls of one forward pass on a dummy batch of
one, in the order they start (a block before the layers inside it). The receptive field of a tensor is looked up
by the autograd node that made it; a tensor made by a plain function (``x + identity`` in a residual block,
``torch.flatten``) is traced back through the autograd graph to the tensors it came from, and takes the largest of
their fields. That is how a residual block takes the larger field of its branches.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.inspect.field import GLOBAL, Field, clipped_box, combine, layer_field
from core.models.modes import eval_mode
from core.train.hooks import first_tensor


@dataclass
class LayerRow:
    """One module call in a forward pass (a module called twice has two rows)."""

    name: str  # qualified module name, e.g. "layer1.0.conv1"
    type: str  # module class, e.g. "Conv2d"
    depth: int  # nesting: 0 for the model's direct children
    leaf: bool  # no other module ran inside this call
    output_shape: tuple  # of the first output tensor, batch of one included; () when not a tensor
    params: int  # parameters of this call and the calls inside it, each parameter counted once in the table
    trainable: int  # of ``params``, those that require gradients (the rest are frozen)
    mult_adds: int  # multiply-adds of this call and the calls inside it, for one sample
    receptive_field: tuple | None  # input pixels a unit sees, per spatial dim; None when global or unknown
    jump: tuple | None  # input pixels between neighbouring units (product of strides so far)
    start: tuple | None  # centre of the first unit's field in input pixel coordinates (pixel i centred at i + .5)
    global_field: bool = False  # units see every input position (global pooling, linear on features, attention)
    call: int = 0  # 0 for a module's first call, 1 for its second, ...

    @property
    def frozen(self) -> int:
        """Parameters of this call that do not require gradients."""
        return self.params - self.trainable

    @property
    def field_text(self) -> str:
        """'7', '7×5', 'global', or '' when unknown (for tables)."""
        if self.global_field:
            return "global"
        if self.receptive_field is None:
            return ""
        sizes = [f"{r:g}" for r in self.receptive_field]
        return sizes[0] if len(set(sizes)) == 1 else "×".join(sizes)

    def box(self, unit: tuple[int, ...], input_size: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """Per spatial dimension, the first and last input pixel unit ``unit`` of this layer can see."""
        if self.receptive_field is None:
            raise ValueError(f"{self.name} has no local receptive field ({self.field_text or 'unknown'})")
        field = Field(*(tuple(float(v) for v in t) for t in (self.receptive_field, self.jump, self.start)))
        return clipped_box(field, unit, input_size)

    def to_dict(self) -> dict:
        """JSON-serialisable fields (tuples become lists) plus ``frozen`` and ``field_text``."""
        return {**asdict(self), "frozen": self.frozen, "field_text": self.field_text}


@dataclass
class LayerTotals:
    """Totals of a layer table: every unique parameter of the model counted once."""

    params: int  # all unique parameters of the model (tied weights once)
    trainable: int  # of which require gradients
    frozen: int  # of which do not
    outside_layers: int  # parameters of no called module (modules the forward never ran, tensors held directly)
    mult_adds: int  # multiply-adds of one sample (convolutions, linear, recurrent and attention layers)
    param_megabytes: float  # size of the parameters in memory


def _unique_params(model: nn.Module) -> list[nn.Parameter]:
    return list(model.parameters())  # Module.parameters() yields each tensor once, even when tied


def layer_totals(model: nn.Module, rows: list[LayerRow]) -> LayerTotals:
    """Totals of ``layer_table(model, ...)``: parameters (trainable / frozen / outside any layer) and multiply-adds."""
    params = _unique_params(model)
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    top = [r for r in rows if r.depth == 0]
    return LayerTotals(total, trainable, total - trainable, total - sum(r.params for r in top),
                       sum(r.mult_adds for r in top), sum(p.numel() * p.element_size() for p in params) / 2**20)


# ---- multiply-adds of one call ---------------------------------------------------------------------------------
def _numel(shape) -> int:
    return math.prod(shape[1:]) if shape else 0  # per sample (dimension 0 is the batch)


def _rnn_mult_adds(m: nn.RNNBase, steps: int) -> int:
    gates = {"LSTM": 4, "GRU": 3}.get(m.mode, 1)
    dirs = 2 if m.bidirectional else 1
    total, width = 0, m.input_size
    for _ in range(m.num_layers):
        total += dirs * gates * m.hidden_size * (width + m.hidden_size) * steps
        width = m.hidden_size * dirs
    return total


def _mult_adds(m: nn.Module, inputs: tuple, out_shape: tuple) -> int:
    """Multiply-adds of one leaf call per sample; 0 for layers whose cost is negligible or not modelled."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return _numel(out_shape) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return _numel(out_shape) * m.in_features
    first = inputs[0] if inputs else None
    if isinstance(m, nn.RNNBase) and first is not None:
        if isinstance(first, nn.utils.rnn.PackedSequence):
            steps = first.data.shape[0]  # time steps summed over the batch (of one)
        else:
            steps = first.shape[1 if m.batch_first else 0] if first.dim() == 3 else first.shape[0]
        return _rnn_mult_adds(m, int(steps))
    if isinstance(m, nn.MultiheadAttention) and first is not None:
        length, e = first.shape[1 if m.batch_first else 0], m.embed_dim
        return 4 * length * e * e + 2 * length * length * e  # q, k, v, out projections + scores and weighted sum
    return 0


# ---- recording one forward pass --------------------------------------------------------------------------------
def _all_tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return [value.data]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _all_tensors(v)]
    return []


def _shape(value) -> tuple:
    t = first_tensor(value)
    return tuple(t.shape) if t is not None else ()


class _Recorder:
    """Hooks on every module: rows in call order, and the field of each autograd node made by a module."""

    def __init__(self, model: nn.Module, dims: int):
        self.names = {m: n for n, m in model.named_modules(remove_duplicate=False) if n}
        self.rows: list[LayerRow] = []
        self.stack: list[tuple] = []  # (row index, input field, input shape, args) of the open calls
        self.fields: dict[int, tuple[object, object]] = {}  # id(autograd node or tensor) -> (node, field)
        self.calls: dict[nn.Module, int] = {}
        self.counted: set[int] = set()  # ids of parameters already counted in some row
        self.inside: list[list[int]] = []  # per open call: rows started inside it
        self.dims = dims

    # the field of a tensor: by its autograd node, else traced back through the graph to recorded nodes
    def _key(self, t: torch.Tensor):
        return t.grad_fn if t.grad_fn is not None else t

    def field_of(self, t) -> object:
        if t is None:
            return None
        key = self._key(t)
        if id(key) in self.fields:
            return self.fields[id(key)][1]
        return self._trace(t.grad_fn)

    def _trace(self, node, limit: int = 10_000):
        found, seen, todo = [], {}, [node] if node is not None else []
        while todo and len(seen) < limit:
            n = todo.pop()
            if n is None or id(n) in seen:
                continue
            seen[id(n)] = n  # kept alive while tracing: a freed node's id could be reused by the next one
            if id(n) in self.fields:
                found.append(self.fields[id(n)][1])
                continue
            var = getattr(n, "variable", None)  # AccumulateGrad: a leaf tensor (the input, or a parameter)
            if var is not None:
                if id(var) in self.fields:
                    found.append(self.fields[id(var)][1])
                continue
            todo.extend(f for f, _ in n.next_functions)
        return combine(found)

    def remember(self, t, field) -> None:
        if t is not None:
            key = self._key(t)
            self.fields[id(key)] = (key, field)  # the node is kept alive, so its id is not reused

    def pre(self, module, args):
        name = self.names.get(module)
        if name is None:
            return
        x = first_tensor(args)
        call = self.calls.get(module, 0)
        self.calls[module] = call + 1
        depth = len(self.stack)
        if self.inside:
            for open_rows in self.inside:
                open_rows.append(len(self.rows))
        own = [p for p in module.parameters(recurse=False) if id(p) not in self.counted]
        self.counted.update(id(p) for p in own)
        self.rows.append(LayerRow(name, type(module).__name__, depth, True, (), sum(p.numel() for p in own),
                                  sum(p.numel() for p in own if p.requires_grad), 0, None, None, None, call=call))
        self.stack.append((len(self.rows) - 1, self.field_of(x), _shape(args), args))
        self.inside.append([])

    def post(self, module, args, output):
        if module not in self.names:
            return
        index, in_field, in_shape, in_args = self.stack.pop()
        nested = self.inside.pop()
        row = self.rows[index]
        row.output_shape = _shape(output)
        out = first_tensor(output)
        if nested:  # a block: its totals are the calls inside it; its field is the one of its output tensor
            row.leaf = False
            inner = [self.rows[i] for i in nested if self.rows[i].depth == row.depth + 1]
            row.params += sum(r.params for r in inner)
            row.trainable += sum(r.trainable for r in inner)
            row.mult_adds = sum(r.mult_adds for r in inner)
            field = self.field_of(out)
        else:
            self._claim_unrun_children(module, row)
            row.mult_adds = _mult_adds(module, in_args, row.output_shape)
            field = layer_field(module, in_field, in_shape, row.output_shape)
            for t in _all_tensors(output):  # an LSTM's final states as well as its outputs
                self.remember(t, field)
        self._set_field(row, field)

    def _claim_unrun_children(self, module, row) -> None:
        """A leaf call owns the parameters of sub-modules it uses without calling them (attention's out_proj)."""
        rest = [p for p in module.parameters() if id(p) not in self.counted]
        self.counted.update(id(p) for p in rest)
        row.params += sum(p.numel() for p in rest)
        row.trainable += sum(p.numel() for p in rest if p.requires_grad)

    @staticmethod
    def _set_field(row: LayerRow, field) -> None:
        if field == GLOBAL:
            row.global_field = True
        elif isinstance(field, Field):
            row.receptive_field = tuple(_whole(v) for v in field.size)
            row.jump = tuple(_whole(v) for v in field.jump)
            row.start = tuple(_whole(v) for v in field.start)


def _whole(v: float):
    """7.0 -> 7 (fields and jumps are whole numbers except after adaptive pooling)."""
    return int(v) if float(v).is_integer() else round(float(v), 4)


def spatial_dims(input_shape: tuple, dtype=torch.float32) -> int:
    """Spatial dimensions of a model input without batch: (C, H, W) -> 2, (C, N) -> 1, token ids (L,) -> 1."""
    if not dtype.is_floating_point:
        return 1
    return max(1, len(input_shape) - 1)


def layer_table(model: nn.Module, input_shape: tuple, *, example: torch.Tensor | None = None) -> list[LayerRow]:
    """One row per module call of a forward pass on a batch of one, in the order the calls start.

    Args:
        model: any ``nn.Module``; its train/eval mode and parameters are left as they were.
        input_shape: one input without the batch dimension, e.g. ``(3, 224, 224)``; ignored when ``example``
            (a batch of one real input, e.g. token ids for a text model) is given.
    """
    x = example if example is not None else torch.zeros(1, *input_shape)
    x = x.detach().clone()
    dims = spatial_dims(tuple(x.shape[1:]), x.dtype)
    rec = _Recorder(model, dims)
    if x.dtype.is_floating_point:
        x.requires_grad_(True)  # the autograd graph leads back to the input, so functional ops can be traced
    rec.remember(x, Field.input(dims))
    handles = []
    for m in rec.names:
        handles.append(m.register_forward_pre_hook(rec.pre))
        handles.append(m.register_forward_hook(rec.post))
    try:
        with eval_mode(model), torch.enable_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return rec.rows
