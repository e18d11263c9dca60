"""Kazakh dates as a city's documents write them: ДД.ММ.ЖЖЖЖ, and the year first when long.

The short forms are Russian's; a long date reads "2027 ж. 1 наурыз".
"""

from gis.formats.ru.formats import (  # noqa: F401  (Django reads these names from the module)
    DATE_INPUT_FORMATS,
    DECIMAL_SEPARATOR,
    FIRST_DAY_OF_WEEK,
    NUMBER_GROUPING,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    THOUSAND_SEPARATOR,
    TIME_FORMAT,
)

DATE_FORMAT = "Y ж. j E"
DATETIME_FORMAT = "Y ж. j E, H:i"
