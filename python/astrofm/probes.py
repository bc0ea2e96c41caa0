"""astrofm's probes as scikit-learn estimators (fit / predict / score,
get_params / set_params, cross_val_score, Pipeline)."""
import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
except ImportError:  # scikit-learn is optional; a minimal stand-in keeps the estimators usable
    class BaseEstimator:
        def get_params(self, deep=True):
            import inspect
            names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
            return {n: getattr(self, n) for n in names}

        def set_params(self, **params):
            for k, v in params.items():
                setattr(self, k, v)
            return self

    class RegressorMixin:
        def score(self, X, y):
            y = np.asarray(y, float)
            p = self.predict(X)
            return 1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    class ClassifierMixin:
        def score(self, X, y):
            return float(np.mean(self.predict(X) == np.asarray(y)))

from . import _core


def _as_features(X):
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


class _ClassesMixin:
    """Maps any labels to 0..C-1 for the C++ probes and back."""

    def _encode(self, y):
        self.classes_, idx = np.unique(np.asarray(y), return_inverse=True)
        return idx.astype(np.float64)

    def _decode(self, idx):
        return self.classes_[np.asarray(idx, dtype=np.int64)]


class KNeighborsRegressor(RegressorMixin, BaseEstimator):
    """Brute-force kNN regression; predictions equal scikit-learn's KNeighborsRegressor."""

    def __init__(self, n_neighbors=5, weights="uniform", standardize=False):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.standardize = standardize

    def fit(self, X, y):
        self._impl = _core.KnnRegressor(int(self.n_neighbors), self.weights, bool(self.standardize))
        self._impl.fit(_as_features(X), np.asarray(y, dtype=np.float64))
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return self._impl.predict(_as_features(X))


class KNeighborsClassifier(_ClassesMixin, ClassifierMixin, BaseEstimator):
    """Brute-force kNN classification; predictions equal scikit-learn's KNeighborsClassifier."""

    def __init__(self, n_neighbors=5, weights="uniform", standardize=False):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.standardize = standardize

    def fit(self, X, y):
        self._impl = _core.KnnClassifier(int(self.n_neighbors), self.weights, bool(self.standardize))
        self._impl.fit(_as_features(X), self._encode(y))
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return self._decode(self._impl.predict(_as_features(X)))


class RidgeProbe(RegressorMixin, BaseEstimator):
    """Ridge regression on standardised features, alpha chosen by 5-fold CV."""

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, X, y):
        self._impl = _core.Probe("ridge", False, 0, int(self.seed), False)
        self._impl.fit(_as_features(X), np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X):
        return self._impl.predict(_as_features(X))


class LogisticProbe(_ClassesMixin, ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression (scikit-learn's objective), C chosen by stratified CV."""

    def __init__(self, balanced=False, seed=0):
        self.balanced = balanced
        self.seed = seed

    def fit(self, X, y):
        yy = self._encode(y)
        self._impl = _core.Probe("logistic", True, len(self.classes_), int(self.seed), bool(self.balanced))
        self._impl.fit(_as_features(X), yy)
        return self

    def predict(self, X):
        return self._decode(self._impl.predict(_as_features(X)))


class MLPProbe(RegressorMixin, BaseEstimator):
    """A small MLP head (64, 64, dropout 0.1, Adam, early stopping) for regression."""

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, X, y):
        self._impl = _core.Probe("mlp", False, 0, int(self.seed), False)
        self._impl.fit(_as_features(X), np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X):
        return self._impl.predict(_as_features(X))
