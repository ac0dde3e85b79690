"""Backpropagation checked against numbers: central differences and hand-worked steps."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dnnstudio.core.data.dataset import Task
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.nn import ACTIVATIONS, OPTIMIZERS, Network, make_optimizer

N_CLASSES = {Task.BINARY: 2, Task.MULTICLASS: 3, Task.REGRESSION: 0}


def _problem(task: Task, rng: np.random.Generator, m: int = 7, n_x: int = 3):
    X = rng.standard_normal((m, n_x))
    if task is Task.REGRESSION:
        y = rng.standard_normal(m)
        n_y = 1
    else:
        k = N_CLASSES[task]
        y = np.arange(m) % k  # every class present
        rng.shuffle(y)
        n_y = 1 if task is Task.BINARY else k
    return X, y, n_y


def _numeric_gradient(net: Network, f, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(net.theta)
    for i in range(net.theta.size):
        old = net.theta[i]
        net.theta[i] = old + eps
        plus = f()
        net.theta[i] = old - eps
        minus = f()
        net.theta[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize(
    ("activation", "task", "l2", "keep_prob"),
    list(itertools.product(sorted(ACTIVATIONS), list(Task), [0.0, 0.7], [1.0, 0.6])),
)
def test_backprop_matches_central_differences(
    activation: str, task: Task, l2: float, keep_prob: float
) -> None:
    rng = np.random.default_rng(42)
    X, y, n_y = _problem(task, rng)
    sizes = (X.shape[1], 5, 4, n_y)
    net = Network(sizes, (activation, activation), task, np.dtype("float64"),
                  l2=l2, keep_prob=keep_prob, m_train=X.shape[0])
    net.initialize("xavier", rng)
    net.theta += 0.1 * rng.standard_normal(net.theta.size)  # non-zero biases too
    Y = net.output.targets(y, n_y, net.dtype)
    labels = y.astype(np.int64) if task.is_classification else np.zeros(len(y), np.int64)
    masks = None
    if keep_prob < 1:
        masks = [(rng.random((X.shape[0], n)) < keep_prob).astype(float) for n in sizes[1:-1]]
        assert all(0 < mk.sum() < mk.size for mk in masks)  # the masks do drop something

    net.cost_and_gradients(X, Y, labels, masks=masks)
    analytic = net.grad.copy()
    numeric = _numeric_gradient(net, lambda: net.cost(X, Y, labels, masks=masks))

    assert np.linalg.norm(numeric) > 1e-3
    rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert rel < 1e-7, f"relative gradient error {rel:.2e}"


def test_dropout_masks_change_the_gradient() -> None:
    """The gradient check above would pass vacuously if masks were ignored; they are not."""
    rng = np.random.default_rng(0)
    X, y, n_y = _problem(Task.BINARY, rng)
    net = Network((3, 6, 1), ("relu",), Task.BINARY, np.dtype("float64"), keep_prob=0.5)
    net.initialize("he", rng)
    Y = net.output.targets(y, 1, net.dtype)
    ones = [np.ones((X.shape[0], 6))]
    half = [np.tile([1.0, 0.0], (X.shape[0], 3))]
    net.cost_and_gradients(X, Y, y, masks=ones)
    g_ones = net.grad.copy()
    net.cost_and_gradients(X, Y, y, masks=half)
    assert not np.allclose(g_ones, net.grad)
    # Units dropped for every example get no gradient into their incoming weights.
    assert np.all(net.dW[0][1::2] == 0)


def test_hand_worked_logistic_regression_step() -> None:
    """One gradient-descent step of a net with no hidden layer, worked out by hand:

    Z = X W.T + b = [-0.4, -0.4], A = sigmoid(-0.4) = 0.401312339887548,
    dZ = (A - y) / 2, dW = dZ.T X = [-0.5, -0.598687660112452], db = -0.098687660112452.
    """
    X = np.array([[1.0, 2.0], [-1.0, 0.0]])
    y = np.array([1, 0])
    net = Network((2, 1), (), Task.BINARY, np.dtype("float64"), m_train=2)
    net.set_parameters([(np.array([[0.5, -0.5]]), np.array([[0.1]]))])
    Y = net.output.targets(y, 1, net.dtype)
    cost = net.cost_and_gradients(X, Y, y)
    assert cost == pytest.approx(0.7130152523999527, rel=1e-12)
    np.testing.assert_allclose(net.dW[0], [[-0.5, -0.598687660112452]], rtol=1e-12)
    np.testing.assert_allclose(net.db[0], [-0.098687660112452], rtol=1e-12)
    make_optimizer(Hyperparameters(optimizer="gd"), net.parameter_count, net.dtype).step(
        net.theta, net.grad, 0.1
    )
    (W, b), = net.parameters()
    np.testing.assert_allclose(W, [[0.55, -0.4401312339887548]], rtol=1e-12)
    np.testing.assert_allclose(b, [[0.1098687660112452]], rtol=1e-12)


# theta = [1, -2], dtheta = [0.5, -0.25], alpha = 0.1, default betas, eps = 1e-8.
HAND_WORKED_STEPS = {
    # theta - alpha * g
    "gd": [0.95, -1.975],
    # v = 0.1 g = [0.05, -0.025]; theta - alpha v
    "momentum": [0.995, -1.9975],
    # s = 0.001 g^2 = [2.5e-4, 6.25e-5]; g / sqrt(s) = +-sqrt(1000) = +-31.6227766
    "rmsprop": [1 - 0.1 * 0.5 / (math.sqrt(2.5e-4) + 1e-8),
                -2 + 0.1 * 0.25 / (math.sqrt(6.25e-5) + 1e-8)],
    # t = 1: v_hat = g, s_hat = g^2, so the step is alpha * g / (|g| + eps)
    "adam": [1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 0.25 / (0.25 + 1e-8)],
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_hand_worked_optimizer_step(name: str) -> None:
    assert set(HAND_WORKED_STEPS) == set(OPTIMIZERS)
    theta = np.array([1.0, -2.0])
    grad = np.array([0.5, -0.25])
    opt = make_optimizer(Hyperparameters(optimizer=name), 2, np.dtype("float64"))
    opt.step(theta, grad, 0.1)
    np.testing.assert_allclose(theta, HAND_WORKED_STEPS[name], rtol=1e-12)


def test_adam_second_step_uses_bias_correction() -> None:
    theta = np.array([0.0])
    opt = make_optimizer(Hyperparameters(optimizer="adam"), 1, np.dtype("float64"))
    opt.step(theta, np.array([1.0]), 0.1)  # theta = -0.1 (up to eps)
    opt.step(theta, np.array([0.0]), 0.1)
    # t = 2: v = 0.9 * 0.1 = 0.09, s = 0.999 * 0.001 = 0.000999;
    # v_hat = 0.09 / 0.19, s_hat = 0.000999 / 0.001999
    v_hat, s_hat = 0.09 / (1 - 0.9**2), 0.000999 / (1 - 0.999**2)
    expected = -0.1 / (1 + 1e-8) - 0.1 * v_hat / (math.sqrt(s_hat) + 1e-8)
    assert theta[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("sizes", "activations"),
    [((3, 5, 4, 3), ("tanh", "relu")), ((3, 3), ()), ((2, 4, 1), ("sigmoid",))],
)
def test_forward_many_matches_forward(
    sizes: tuple[int, ...], activations: tuple[str, ...]
) -> None:
    rng = np.random.default_rng(3)
    net = Network(sizes, activations, Task.MULTICLASS, np.dtype("float64"))
    X = rng.standard_normal((11, sizes[0]))
    snapshots = []
    expected = []
    for _ in range(4):
        net.initialize("he", rng)
        net.theta += rng.standard_normal(net.theta.size)
        snapshots.append(net.theta.copy())
        expected.append(net.forward(X).copy())
    got = net.forward_many(X, np.stack(snapshots))
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task", list(Task))
def test_batched_evaluation_matches_single(task: Task) -> None:
    rng = np.random.default_rng(5)
    _, y, n_y = _problem(task, rng, m=9)
    net = Network((2, n_y), (), task, np.dtype("float64"))
    Y = net.output.targets(y, n_y, net.dtype)
    labels = y.astype(np.int64) if task.is_classification else np.zeros(9, np.int64)
    Zs = 3 * rng.standard_normal((4, 9, n_y))
    loss, score = net.output.evaluate(Zs, Y, labels)
    for j in range(4):
        loss_j, score_j = net.output.evaluate(Zs[j], Y, labels)
        assert loss[j] == pytest.approx(float(loss_j), rel=1e-12)
        assert score[j] == pytest.approx(float(score_j), rel=1e-12)


def test_saturated_outputs_give_finite_costs() -> None:
    net = Network((1, 1), (), Task.BINARY, np.dtype("float32"))
    Z = np.array([[200.0], [-200.0]], dtype=np.float32)
    Y = np.array([[0.0], [1.0]], dtype=np.float32)
    loss, hits = net.output.evaluate(Z, Y, np.array([0, 1]))
    assert float(loss) == pytest.approx(400.0, rel=1e-5)
    assert int(hits) == 0


def _textbook(name: str, theta: np.ndarray, grads: list[np.ndarray], alpha: float,
              b: float = 0.9, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-8) -> np.ndarray:
    """The course's update rules, written out plainly."""
    theta = theta.copy()
    v = np.zeros_like(theta)
    s = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if name == "gd":
            theta -= alpha * g
        elif name == "momentum":
            v = b * v + (1 - b) * g
            theta -= alpha * v
        elif name == "rmsprop":
            s = b2 * s + (1 - b2) * g**2
            theta -= alpha * g / (np.sqrt(s) + eps)
        else:
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g**2
            theta -= alpha * (v / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return theta


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("betas", [(0.9, 0.9, 0.999), (0.0, 0.5, 0.0), (0.99, 0.0, 0.9)])
def test_optimizers_follow_the_textbook_over_many_steps(
    name: str, betas: tuple[float, float, float]
) -> None:
    rng = np.random.default_rng(11)
    theta0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) for _ in range(25)]
    b, b1, b2 = betas
    hp = Hyperparameters(optimizer=name, beta=b, beta1=b1, beta2=b2)
    opt = make_optimizer(hp, 50, np.dtype("float64"))
    theta = theta0.copy()
    for g in grads:
        opt.step(theta, g, 0.05)
    expected = _textbook(name, theta0, grads, 0.05, b=b, b1=b1, b2=b2)
    np.testing.assert_allclose(theta, expected, rtol=1e-10, atol=1e-12)
