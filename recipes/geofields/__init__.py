"""The recipe of ``csp-geofields``, the bundled default location encoder (see ``recipe.py``).

* ``fields``: the global field stack (ETOPO5, MODIS MCD12C1, Blue Marble, Levitus, COADS) on a 0.25-degree grid.
* ``patches``: patch extraction (antimeridian wrap, pole reflection) and the frozen image features F(I).
* ``data``: pre-training points and their features (plus the positional descriptor).
* ``pretrain``: the CSP-MC-BLD loop (``geoloc_embed.trainer.losses.mc_loss``) with per-epoch diagnostics.
* ``whitening``: partial PCA whitening folded into the last linear layer.
* ``diagnostics``, ``proxies``: model-selection signals that use no benchmark label.
* ``fewshot``: the model card's few-shot fine-tuning table.
* ``recipe``: the whole recipe (``python -m recipes.geofields``).

Importing this package is cheap; data files are read when first used.
"""
