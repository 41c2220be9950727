"""Losses: `value(pred, target, w)` (mean over the batch) and `grad(pred, target, w)` = dL/dpred.

Sample weights w (n,) >= 0 (a weight column, class weights) make the mean a weighted one:

    L = sum_i w_i l_i / sum_i w_i        dL/dpred_i = (w_i / sum_j w_j) dl_i/dpred_i

where l_i is sample i's loss (its mean over the outputs for binary cross-entropy, mse and
mae). Dividing by the sum of the weights rather than by n (Keras' choice) keeps the loss a mean:
weights of one give the plain mean, scaling every weight by c changes nothing (so the learning
rate need not follow the weights' units), and a weight of 2 is exactly the sample listed twice in
the batch. It is PyTorch's `reduction="mean"` with class weights and numpy's / scikit-learn's
`np.average(l, weights=w)`. A batch whose weights are all zero has L = 0 and no gradient.
w=None is the unweighted code path, untouched.

Cross-entropy after a softmax (or binary cross-entropy after a sigmoid) is fused: the model
skips the output layer's Jacobian and asks the loss for dL/dlogits = (p - y) / n directly
(`grad_logits`), which is both cheaper and numerically stable. With `from_logits: true` the
network ends without the activation and the loss applies it itself.
"""
from __future__ import annotations

from ..registry import LOSSES
from .base import EPS, Loss, build_loss
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, SparseCategoricalCrossentropy
from .margin import Hinge, SquaredHinge
from .regression import Huber, MeanAbsoluteError, MeanSquaredError, Poisson

__all__ = ["EPS", "LOSSES", "BinaryCrossentropy", "CategoricalCrossentropy", "Hinge", "Huber", "KLDivergence", "Loss",
           "MeanAbsoluteError", "MeanSquaredError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge",
           "build_loss"]
