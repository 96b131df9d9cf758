"""The BentoML service, the batch scoring job, the report and the command line."""
