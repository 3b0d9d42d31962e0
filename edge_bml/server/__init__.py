"""The kiosk / mobile-backend HTTP server (Starlette on uvicorn) and its kiosk page."""
