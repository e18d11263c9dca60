from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from gis.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    list_display = ("username", "role", "organisation", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")
    raw_id_fields = ("organisation",)
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Role", {"fields": ("role", "organisation")}))
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("Role", {"fields": ("role", "organisation")}),)
