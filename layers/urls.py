"""The lookup API under /api/."""

from django.urls import path

from layers.api import AddressSearchApi
from layers.api_spatial import AlongApi, NearbyApi, ObjectCardApi, WithinApi

urlpatterns = [
    path("search", AddressSearchApi.as_view(), name="search"),
    path("objects/<str:layer>/<int:pk>", ObjectCardApi.as_view(), name="object-card"),
    path("nearby", NearbyApi.as_view(), name="nearby"),
    path("within", WithinApi.as_view(), name="within"),
    path("along", AlongApi.as_view(), name="along"),
]
