"""Staff security: login refusal and lockout, sessions, second factor, response headers."""
