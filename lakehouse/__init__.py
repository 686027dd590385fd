"""Quảng Ninh IOC lakehouse core package."""
