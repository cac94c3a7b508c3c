"""The stores: a local folder and S3 (a real SeaweedFS server)."""
