"""
Training curves with early stopping
===================================

An MLP on scikit-learn's digits with early stopping and a cosine learning
rate: the training and validation losses, the validation accuracy and the
learning rate of each epoch, as :class:`fastmlp.inspection.TrainingCurveDisplay`
draws them. The dashed line marks the epoch whose weights the estimator kept.
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier
from fastmlp.inspection import TrainingCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
clf = MLPClassifier(hidden_layer_sizes=(128,), early_stopping=True,
                    learning_rate="cosine", n_iter_no_change=15, random_state=0)
clf.fit(X_train, y_train)
print(f"{clf.n_iter_} epochs, test accuracy {clf.score(X_test, y_test):.3f}")
TrainingCurveDisplay.from_estimator(clf)
