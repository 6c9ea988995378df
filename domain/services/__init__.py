"""City services (``service.*``): registered actors with scopes, the basis of every service's authorisation."""
