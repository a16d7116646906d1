"""PLACEHOLDER until the coordinates module lands."""
import numpy as np
import torch
def to_canonical(coords, order="lonlat", *, wrap=False, dtype=torch.float32, device=None, **kw):
    t = torch.as_tensor(np.asarray(coords, dtype=np.float64)).reshape(-1, 2)
    if order == "latlon":
        t = t.flip(-1)
    return t.to(dtype=dtype, device=device)
