"""The lesson, one tooltip per hyperparameter.

Hyperparameters are *chosen* by you before training; parameters (``W[l]``, ``b[l]``) are
*learned* by gradient descent. Each tooltip says what the hyperparameter controls, which values
are typical and what goes wrong when it is too small or too large, so that the person can run
the loop idea -> train -> observe -> refine with the lesson at hand.

The keys are the field names of :class:`~dnnstudio.core.hyperparams.Hyperparameters`; the
values are rich text (Qt shows anything that looks like HTML as rich text, which also lets long
tooltips wrap instead of running off the screen).
"""

from __future__ import annotations

__all__ = ["TOOLTIPS"]


def _tip(title: str, body: str) -> str:
    # A <p> wrapper makes Qt treat the text as rich text, which word-wraps long tooltips.
    return f"<p><b>{title}</b><br>{body}</p>"


TOOLTIPS: dict[str, str] = {
    "alpha": _tip(
        "alpha: learning rate",
        "The step size of gradient descent. Typical 0.001-0.1; start at 0.01 and try "
        "0.001, 0.003, 0.01, 0.03, 0.1. Too small: the cost decreases slowly. Too large: the "
        "cost oscillates or diverges. Accepts 1e-3 style; Up/Down step through 1, 3, 10.",
    ),
    "epochs": _tip(
        "Epochs (number of iterations)",
        "Passes over the training set; with full-batch gradient descent one epoch is one "
        "iteration. Typical 1000-10000. Too few: training stops before the cost has "
        "flattened. Too many: time is wasted and the network may overfit (watch the "
        "validation cost).",
    ),
    "hidden": _tip(
        "Hidden layers n[1] .. n[L-1]",
        "The number of units n[l] in each hidden layer; L = hidden layers + 1 (the output "
        "layer). Start with 2-3 layers of 50-100 units. Too small: the network cannot fit "
        "the data (underfitting). Too large: training is slower and may overfit.",
    ),
    "activation": _tip(
        "Activation of the hidden layers",
        "The non-linearity g(z) of each hidden layer: ReLU (fast, works well in practice), "
        "tanh, sigmoid or leaky ReLU. The output layer's activation follows the task "
        "(sigmoid, softmax or linear). Without a non-linearity, deep layers collapse into one "
        "linear function.",
    ),
    "init": _tip(
        "Weight initialisation",
        "How W[l] starts (b[l] starts at zero). He (sqrt(2/n[l-1])) suits ReLU, Xavier "
        "(sqrt(1/n[l-1])) suits tanh. Small random numbers (x 0.01) make the signal vanish "
        "in deep networks, so training stalls; too large weights saturate tanh and sigmoid.",
    ),
    "optimizer": _tip(
        "Optimizer",
        "How each gradient step is taken: plain gradient descent, momentum (averages past "
        "gradients, beta), RMSprop (scales steps per parameter, beta2, epsilon) or Adam "
        "(both, beta1, beta2, epsilon). Adam usually needs less tuning of alpha.",
    ),
    "beta": _tip(
        "beta: momentum",
        "How much of the past gradients the momentum keeps. Typical 0.9 (an average over "
        "about 10 steps). Too small: little smoothing, like plain gradient descent. Too close "
        "to 1: the steps lag behind and overshoot.",
    ),
    "beta1": _tip(
        "beta1: Adam's first moment",
        "The momentum part of Adam. Typical 0.9. Too small: noisy steps. Too close to 1: "
        "slow to react when the gradient changes.",
    ),
    "beta2": _tip(
        "beta2: squared-gradient average",
        "How long RMSprop and Adam remember squared gradients. Typical 0.999. Too small: "
        "step sizes jump from step to step. Too close to 1: they adapt slowly.",
    ),
    "epsilon": _tip(
        "epsilon",
        "A tiny number added before dividing by the root of the squared-gradient average, "
        "so a step never divides by zero. Typical 1e-8; rarely needs tuning. Too large: "
        "RMSprop and Adam behave like plain gradient descent.",
    ),
    "batch_size": _tip(
        "Mini-batch size",
        "Examples per gradient step. Full batch uses every example in every step (smooth "
        "but slow on large data); typical mini-batches are 32, 64, 128, 256. Too small: "
        "noisy steps and little vectorisation. Too large: few steps per epoch.",
    ),
    "l2": _tip(
        "L2 regularisation lambda",
        "Adds lambda / (2m) * sum ||W[l]||^2 to the cost, pulling the weights towards zero. "
        "0 turns it off; try 0.01-1 when the validation cost is much higher than the "
        "training cost (overfitting). Too large: the network underfits.",
    ),
    "keep_prob": _tip(
        "Dropout keep_prob",
        "The probability of keeping each hidden unit during training (inverted dropout). 1 "
        "turns dropout off; typical 0.5-0.9 against overfitting. Too small: the network "
        "cannot learn (underfits). 1: no regularisation from dropout.",
    ),
    "decay": _tip(
        "Learning-rate decay",
        "Lowers alpha as training goes on, so the last steps settle instead of wandering: "
        "none; 1/t: alpha / (1 + rate * epoch); exponential: alpha * rate^epoch; step: "
        "alpha * rate^(epoch // step).",
    ),
    "decay_rate": _tip(
        "Decay rate",
        "How fast alpha decays. For 1/t decay typical 0.001-1; for exponential and step "
        "decay a factor in (0, 1], e.g. 0.95. Too strong: alpha shrinks to nothing before the "
        "cost has converged. Too weak: no effect.",
    ),
    "decay_step": _tip(
        "Decay step",
        "For step decay: alpha is multiplied by the rate every this many epochs. Typical "
        "100-1000. Too small: alpha drops almost every epoch. Too large: it barely drops.",
    ),
    "patience": _tip(
        "Early stopping patience",
        "Stop after this many epochs without a lower validation cost and keep the best W[l], "
        "b[l]. Typical 20-100. Too small: stops on a noisy plateau too early. Too large: "
        "trains long past the best point. Off: train for all the epochs.",
    ),
    "seed": _tip(
        "Seed",
        "Seeds the initialisation, shuffling and dropout: the same seed gives the same "
        "result, so two runs differ only in what you changed. Try a few seeds to see how "
        "much a result owes to luck.",
    ),
    "dtype": _tip(
        "Floating-point precision",
        "float32 is faster and enough for training; float64 is slower but more exact, "
        "useful for gradient checking.",
    ),
}
