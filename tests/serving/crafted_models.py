"""A registered model with crafted training-run parameters, for the tests that read them.

Used as a plain module (like ``report_demo_flow``): tests import it by name.
"""

from __future__ import annotations


def register_with_params(uri: str, **changes: str) -> str:
    """The champion of the MLflow store at ``uri`` registered again under a new run whose
    parameters are its training run's with ``changes`` (name -> text); its ``models:/`` URI.

    A run's parameters cannot change once logged, so the crafted ones go on a new run.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Param

    # This store named explicitly: an earlier test may have pointed mlflow's globals elsewhere,
    # and MLflow itself resolves a "models:/m-..." source through the global tracking URI.
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("customer-health-churn", "champion")
    trained = client.get_run(champion.run_id)
    params = {**trained.data.params, **changes}
    run = client.create_run(trained.info.experiment_id)
    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run.info.run_id, params=items[start:start + 100])
    client.set_terminated(run.info.run_id)
    name = f"crafted-{run.info.run_id[:8]}"
    client.create_registered_model(name)
    version = client.create_model_version(name, source=champion.source, run_id=run.info.run_id)
    return f"models:/{name}/{version.version}"
