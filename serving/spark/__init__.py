"""The Spark engine: the same scoring path, partitioned by account (``--engine spark``).

Every formula stays where it is; Spark only moves rows. The input tables (Parquet, a file or
a partitioned folder per table) are read by Spark, each row gets the hash bucket of its
account, and ``groupBy(bucket).applyInPandas`` hands each bucket's accounts and all their
rows to the pandas functions the laptop runs: :func:`features.contract.validate_tables`,
then :func:`models.scoring.score_tables`. The two facts that span the whole portfolio are
computed once on the driver and handed to every bucket: the trailing churn rate (the CLV's
lifetime) and the learnt comment polarity.

* :mod:`serving.spark.session`: the SparkSession (or the one spark-submit made), and the
  one-line error when Java or pyspark is missing;
* :mod:`serving.spark.tables`: reading the tables, global row numbers, account buckets;
* :mod:`serving.spark.validation`: the contract on every bucket, problems merged as one;
* :mod:`serving.spark.engine`: features and scores per bucket, written as partitioned Parquet.
"""
