"""Airflow plugins of bionicflow (hooks, UI views)."""
