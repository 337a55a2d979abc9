"""Spend tracking: the AWS bill from Cost Explorer and EstimatedCharges, a baseline, billing alerts.

The pure decisions live in ``thresholds``, ``baseline``, ``forecast``,
``nowcast`` and ``anomaly``. The AWS adapters are ``cost_explorer`` and
``estimated_charges``, and the SQLite reads and writes are in ``repository``
and ``ledger``. ``component`` runs the polls and evaluations as daemon jobs.
"""
