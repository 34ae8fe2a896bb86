"""Delivery of generated files to vendors (SFTP: ``aeries_hub.delivery.sftp``)."""
