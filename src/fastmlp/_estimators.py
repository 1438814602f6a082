class MLPClassifier: pass
class MLPRegressor: pass
