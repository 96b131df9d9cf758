"""Churn models: point-in-time training sets, LightGBM and baselines, MLflow tracking."""
