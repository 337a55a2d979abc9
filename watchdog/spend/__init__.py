"""Spend tracking: the AWS bill from Cost Explorer and EstimatedCharges, a baseline, billing alerts.

The pure decisions live in ``thresholds``, ``baseline``, ``forecast``,
``nowcast`` and ``anomaly``; the AWS adapters in ``cost_explorer`` and
``estimated_charges``; the SQLite reads and writes in ``repository`` and
``ledger``; and ``component`` runs the polls and evaluations as daemon jobs.
"""
