"""The catalog: catalog.json, DCAT-AP-SE, the pages, real harvesters and a real browser."""
