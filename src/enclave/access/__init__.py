"""Who may do what: API keys, projects, roles, and the limits that apply to them."""
