"""Reading what the student's process built without running any of its code.

The clean room's reply is encoded (codec.Encoder) after the student's code ran, in the same
process. Nothing of the student's may run while it is read: no overridden __iter__, items(),
__str__, __float__, __getattr__ or __class__, no Tensor subclass's __torch_function__, no torch
function or dispatch mode left active, no patched torch.Tensor method. So objects are read with
C functions taken here at import, through their base types, with torch's Python dispatch off.
"""
from __future__ import annotations

import types

import torch

TB = torch._C.TensorBase
DETACH, NUMPY, CPU, CONTIGUOUS, RESHAPE, VIEW, AS = (
    TB.detach, TB.numpy, TB.cpu, TB.contiguous, TB.reshape, TB.view, TB.as_subclass)
DTYPE, SHAPE, DEVICE, LAYOUT = (vars(TB)[n].__get__ for n in ("dtype", "shape", "device", "layout"))
NUMEL = TB.numel
TENSOR, NO_TORCH_FUNCTION, NO_DISPATCH = torch.Tensor, torch._C.DisableTorchFunction, torch._C._DisableTorchDispatch
TYPE_NAME, TYPE_DICT, MRO = (vars(type)[n].__get__ for n in ("__name__", "__dict__", "__mro__"))
FUNCTION_DICT = vars(types.FunctionType)["__dict__"].__get__
STR, INT, FLOAT, ITEMS = str.__str__, int.__index__, float.__float__, dict.items
C_METHODS = {types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType,
             types.ClassMethodDescriptorType}
READ_WITH = {tuple: ("__iter__", "__getitem__", "__len__"), list: ("__iter__", "__getitem__", "__len__"),
             dict: ("__iter__", "__getitem__", "__len__", "items", "keys", "values")}


def read_differently(kind: type, base: type) -> bool:
    """Does a container subclass read its items with Python code of its own (a tuple whose
    __iter__ hangs, a dict whose items() lie)? Then what its base type holds is not what the
    student's caller would get: it is sent as a placeholder. (namedtuple, OrderedDict: no.)"""
    for klass in MRO(kind):
        if klass is base:
            return False
        members = TYPE_DICT(klass)
        if any(name in members and type(members[name]) not in C_METHODS for name in READ_WITH[base]):
            return True
    return False
