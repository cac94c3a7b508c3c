"""The collectors: stewards' files (CSV, xlsx, JSON), public APIs, hostile and messy sources."""
