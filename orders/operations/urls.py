"""Operations URLs, included at the root: the API under /api/ and the dashboard page."""

urlpatterns: list = [
    # --- dashboard ---
    # --- repeated problems and works ---
]
