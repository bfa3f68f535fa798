"""The forecast API (FastAPI over uvicorn) and the MCP server, read-only over the serving database."""
