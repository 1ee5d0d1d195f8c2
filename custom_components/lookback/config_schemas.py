"""The config flow's forms: the NVR entry, a camera, its motion and alerts, reauth.

Plain schema builders (HA selectors), kept apart from the flow's steps and checks.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from homeassistant.const import (
    CONF_NAME,
    CONF_PASSWORD,
    CONF_USERNAME,
    UnitOfInformation,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .const import (
    CONF_ALERT_HOLD,
    CONF_DETECT_URL,
    CONF_DETECTOR,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_MAIL_ADDRESS,
    CONF_MAIL_CHANNEL,
    CONF_MAX_CLIP_SECONDS,
    CONF_MOTION_ACTIVE_FPS,
    CONF_MOTION_MASKS,
    CONF_MOTION_MIN_AREA,
    CONF_MOTION_MIN_DURATION,
    CONF_MOTION_SENSITIVITY,
    CONF_MOTION_ZONES,
    CONF_OBJECT_FPS,
    CONF_OBJECT_INTERVAL,
    CONF_OBJECT_LABELS,
    CONF_OBJECT_MASKS,
    CONF_OBJECT_MAX_AREA,
    CONF_OBJECT_MIN_AREA,
    CONF_OBJECT_MIN_FRAMES,
    CONF_OBJECT_MIN_SCORE,
    CONF_OBJECT_MODEL,
    CONF_OBJECTS_ENABLED,
    CONF_ONVIF_ENABLED,
    CONF_ONVIF_EVENTS,
    CONF_ONVIF_HOST,
    CONF_ONVIF_PASSWORD,
    CONF_ONVIF_PORT,
    CONF_ONVIF_USERNAME,
    CONF_POST_ROLL,
    CONF_PRE_ROLL,
    CONF_RETENTION_DAYS,
    CONF_RETENTION_GB,
    CONF_SMTP_AUTH_WITHOUT_TLS,
    CONF_SMTP_ENABLED,
    CONF_SMTP_HOST,
    CONF_SMTP_MAX_MB,
    CONF_SMTP_PASSWORD,
    CONF_SMTP_PORT,
    CONF_SMTP_RATE,
    CONF_SMTP_STARTTLS,
    CONF_SMTP_USERNAME,
    CONF_SNAPSHOT_URL,
    CONF_STORAGE_MAX_GB,
    CONF_STORAGE_PATH,
    CONF_TRANSPORT,
    CONF_TRIGGER_ENTITIES,
    CONF_URL,
    DEFAULT_ALERT_HOLD,
    DEFAULT_DETECTOR,
    DEFAULT_ONVIF_PORT,
    DEFAULT_POST_ROLL,
    DEFAULT_PRE_ROLL,
    DEFAULT_SMTP_ENABLED,
    DEFAULT_SMTP_HOST,
    DEFAULT_SMTP_MAX_MB,
    DEFAULT_SMTP_PORT,
    DEFAULT_SMTP_RATE,
    DEFAULT_STORAGE_MAX_GB,
    DEFAULT_STORAGE_SUBDIR,
    DETECTOR_CHOICES,
)
from .core.alerts.onvif import OnvifCategory
from .core.models import MotionConfig, Transport
from .core.objects.types import ObjectConfig
from .core.polygons import format_masks, format_zones


def _number(
    minimum: float, maximum: float | None = None, *, step: float = 1, unit: str | None = None
) -> NumberSelector:
    config = NumberSelectorConfig(min=minimum, step=step, mode=NumberSelectorMode.BOX)
    if maximum is not None:
        config["max"] = maximum
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _seconds(maximum: float, minimum: float = 0) -> NumberSelector:
    return _number(minimum, maximum, step=0.5, unit=UnitOfTime.SECONDS)


_TEXT: Final = TextSelector()
_URL: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_USERNAME: Final = TextSelector(TextSelectorConfig(autocomplete="username"))
_PASSWORD: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_NEW_PASSWORD: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="new-password")
)
_PRE_ROLL: Final = _seconds(30)
_POST_ROLL: Final = _seconds(300)


def nvr_schema(values: Mapping[str, Any]) -> probatio.Schema:
    """The NVR entry's fields, defaulting to ``values`` (defaults, entry data or last input)."""

    def required(key: str) -> probatio.Required:
        return probatio.Required(key, default=values[key])

    def optional(key: str) -> probatio.Optional:
        return probatio.Optional(key, description={"suggested_value": values.get(key)})

    return probatio.Schema(
        {
            required(CONF_STORAGE_PATH): _TEXT,
            required(CONF_STORAGE_MAX_GB): _number(0, step=0.1, unit=UnitOfInformation.GIGABYTES),
            required(CONF_PRE_ROLL): _PRE_ROLL,
            required(CONF_POST_ROLL): _POST_ROLL,
            required(CONF_SMTP_ENABLED): BooleanSelector(),
            required(CONF_SMTP_HOST): _TEXT,
            required(CONF_SMTP_PORT): probatio.All(_number(1, 65535), probatio.Coerce(int)),
            optional(CONF_SMTP_USERNAME): _USERNAME,
            probatio.Optional(CONF_SMTP_PASSWORD): _NEW_PASSWORD,
            required(CONF_SMTP_STARTTLS): BooleanSelector(),
            required(CONF_SMTP_AUTH_WITHOUT_TLS): BooleanSelector(),
            required(CONF_SMTP_MAX_MB): _number(1, 100, step=1, unit=UnitOfInformation.MEGABYTES),
            required(CONF_SMTP_RATE): probatio.All(_number(0, 6000), probatio.Coerce(int)),
            required(CONF_DETECTOR): SelectSelector(
                SelectSelectorConfig(
                    options=list(DETECTOR_CHOICES),
                    translation_key=CONF_DETECTOR,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            optional(CONF_DETECTOR_MODEL): _TEXT,
            optional(CONF_DETECTOR_URL): _URL,
            probatio.Optional(CONF_DETECTOR_API_KEY): _NEW_PASSWORD,
        }
    )


def nvr_defaults(hass: HomeAssistant) -> dict[str, Any]:
    """Values of a new NVR entry; storage goes below HA's first media folder."""
    media_dirs = list(hass.config.media_dirs.values())
    if media_dirs:
        storage = str(Path(media_dirs[0]) / DEFAULT_STORAGE_SUBDIR)
    else:
        storage = hass.config.path("media", DEFAULT_STORAGE_SUBDIR)
    return {
        CONF_STORAGE_PATH: storage,
        CONF_STORAGE_MAX_GB: DEFAULT_STORAGE_MAX_GB,
        CONF_PRE_ROLL: DEFAULT_PRE_ROLL,
        CONF_POST_ROLL: DEFAULT_POST_ROLL,
        CONF_SMTP_ENABLED: DEFAULT_SMTP_ENABLED,
        CONF_SMTP_HOST: DEFAULT_SMTP_HOST,
        CONF_SMTP_PORT: DEFAULT_SMTP_PORT,
        CONF_SMTP_USERNAME: "",
        CONF_SMTP_STARTTLS: False,
        CONF_SMTP_AUTH_WITHOUT_TLS: False,
        CONF_SMTP_MAX_MB: DEFAULT_SMTP_MAX_MB,
        CONF_SMTP_RATE: DEFAULT_SMTP_RATE,
        CONF_DETECTOR: DEFAULT_DETECTOR,
        CONF_DETECTOR_MODEL: "",
        CONF_DETECTOR_URL: "",
    }


def camera_schema() -> probatio.Schema:
    """A camera subentry's fields; the form's values come from add_suggested_values_to_schema."""
    return probatio.Schema(
        {
            probatio.Required(CONF_NAME): _TEXT,
            probatio.Required(CONF_URL): _URL,
            probatio.Optional(CONF_DETECT_URL): _URL,
            probatio.Optional(CONF_SNAPSHOT_URL): _URL,
            probatio.Optional(CONF_USERNAME): _USERNAME,
            probatio.Optional(CONF_PASSWORD): _PASSWORD,
            probatio.Required(CONF_TRANSPORT): SelectSelector(
                SelectSelectorConfig(
                    options=[t.value for t in Transport],
                    translation_key=CONF_TRANSPORT,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            probatio.Required(CONF_PRE_ROLL): _PRE_ROLL,
            probatio.Required(CONF_POST_ROLL): _POST_ROLL,
            probatio.Required(CONF_MAX_CLIP_SECONDS): _number(10, 3600, unit=UnitOfTime.SECONDS),
            probatio.Required(CONF_RETENTION_DAYS): _number(0, 3650, unit=UnitOfTime.DAYS),
            probatio.Required(CONF_RETENTION_GB): _number(
                0, step=0.1, unit=UnitOfInformation.GIGABYTES
            ),
        }
    )


_POLYGONS: Final = TextSelector(TextSelectorConfig(multiline=True))


def motion_schema() -> probatio.Schema:
    """A camera's motion settings; the form's values come from add_suggested_values_to_schema."""
    return probatio.Schema(
        {
            probatio.Required(CONF_MOTION_SENSITIVITY): NumberSelector(
                NumberSelectorConfig(
                    min=0, max=100, step=1, mode=NumberSelectorMode.SLIDER, unit_of_measurement="%"
                )
            ),
            probatio.Required(CONF_MOTION_MIN_AREA): _number(0.01, 50, step=0.01, unit="%"),
            probatio.Required(CONF_MOTION_MIN_DURATION): _seconds(120, minimum=1),
            probatio.Required(CONF_MOTION_ACTIVE_FPS): _number(0, 15, step=1, unit="fps"),
            probatio.Optional(CONF_MOTION_MASKS): _POLYGONS,
            probatio.Optional(CONF_MOTION_ZONES): _POLYGONS,
        }
    )


def motion_defaults() -> dict[str, Any]:
    """Motion settings of a camera that never had them changed."""
    defaults = MotionConfig()
    return {
        CONF_MOTION_SENSITIVITY: defaults.sensitivity,
        CONF_MOTION_MIN_AREA: defaults.min_area,
        CONF_MOTION_MIN_DURATION: defaults.min_duration,
        CONF_MOTION_ACTIVE_FPS: defaults.active_fps,
        CONF_MOTION_MASKS: format_masks(defaults.masks),
        CONF_MOTION_ZONES: format_zones(defaults.zones),
    }


def objects_schema(labels: Sequence[str]) -> probatio.Schema:
    """A camera's object detection; ``labels`` are what the NVR's detector can report."""
    return probatio.Schema(
        {
            probatio.Required(CONF_OBJECTS_ENABLED): BooleanSelector(),
            probatio.Required(CONF_OBJECT_LABELS): SelectSelector(
                SelectSelectorConfig(
                    options=list(labels),
                    multiple=True,
                    custom_value=True,  # a user's own model may know labels we do not
                    mode=SelectSelectorMode.DROPDOWN,
                    sort=True,
                )
            ),
            probatio.Required(CONF_OBJECT_MIN_SCORE): NumberSelector(
                NumberSelectorConfig(
                    min=10, max=99, step=1, mode=NumberSelectorMode.SLIDER, unit_of_measurement="%"
                )
            ),
            probatio.Required(CONF_OBJECT_MIN_AREA): _number(0, 100, step=0.01, unit="%"),
            probatio.Required(CONF_OBJECT_MAX_AREA): _number(0.01, 100, step=0.01, unit="%"),
            probatio.Required(CONF_OBJECT_MIN_FRAMES): probatio.All(
                _number(1, 10), probatio.Coerce(int)
            ),
            probatio.Required(CONF_OBJECT_FPS): _number(0.1, 10, step=0.1, unit="fps"),
            probatio.Required(CONF_OBJECT_INTERVAL): _number(0, 3600, unit=UnitOfTime.SECONDS),
            probatio.Optional(CONF_OBJECT_MASKS): _POLYGONS,
            probatio.Optional(CONF_OBJECT_MODEL): _TEXT,
        }
    )


def objects_defaults() -> dict[str, Any]:
    """Object settings of a camera that never had them changed (on once the NVR detects)."""
    defaults = ObjectConfig()
    return {
        CONF_OBJECTS_ENABLED: True,
        CONF_OBJECT_LABELS: list(defaults.labels),
        CONF_OBJECT_MIN_SCORE: round(defaults.min_score * 100),
        CONF_OBJECT_MIN_AREA: defaults.min_area,
        CONF_OBJECT_MAX_AREA: defaults.max_area,
        CONF_OBJECT_MIN_FRAMES: defaults.min_frames,
        CONF_OBJECT_FPS: defaults.fps,
        CONF_OBJECT_INTERVAL: defaults.interval,
        CONF_OBJECT_MASKS: "",
        CONF_OBJECT_MODEL: "",
    }


def alerts_schema() -> probatio.Schema:
    """A camera's alert sources; the form's values come from add_suggested_values_to_schema."""
    return probatio.Schema(
        {
            probatio.Required(CONF_MAIL_ADDRESS): _TEXT,
            probatio.Required(CONF_MAIL_CHANNEL): probatio.All(
                _number(0, 999), probatio.Coerce(int)
            ),
            probatio.Required(CONF_ONVIF_ENABLED): BooleanSelector(),
            probatio.Optional(CONF_ONVIF_HOST): _TEXT,
            probatio.Required(CONF_ONVIF_PORT): probatio.All(
                _number(1, 65535), probatio.Coerce(int)
            ),
            probatio.Optional(CONF_ONVIF_USERNAME): _USERNAME,
            probatio.Optional(CONF_ONVIF_PASSWORD): _PASSWORD,
            probatio.Required(CONF_ONVIF_EVENTS): SelectSelector(
                SelectSelectorConfig(
                    options=list(ONVIF_EVENT_CHOICES),
                    multiple=True,
                    translation_key=CONF_ONVIF_EVENTS,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            probatio.Optional(CONF_TRIGGER_ENTITIES): EntitySelector(
                EntitySelectorConfig(multiple=True, domain=list(TRIGGER_ENTITY_DOMAINS))
            ),
            probatio.Required(CONF_ALERT_HOLD): _seconds(600, minimum=1),
        }
    )


# Entities whose state turns "on": what a trigger entity may be.
TRIGGER_ENTITY_DOMAINS: Final = ("binary_sensor", "input_boolean", "switch", "light")

# Every ONVIF event kind a user can choose (OTHER is whatever no rule recognises).
ONVIF_EVENT_CHOICES: Final = tuple(c.value for c in OnvifCategory if c is not OnvifCategory.OTHER)


def alerts_defaults(camera_id: str) -> dict[str, Any]:
    """Alert settings of a camera that never had them changed: mail to its own id."""
    return {
        CONF_MAIL_ADDRESS: camera_id,
        CONF_MAIL_CHANNEL: 0,
        CONF_ONVIF_ENABLED: False,
        CONF_ONVIF_PORT: DEFAULT_ONVIF_PORT,
        CONF_ONVIF_EVENTS: list(ONVIF_EVENT_CHOICES),
        CONF_TRIGGER_ENTITIES: [],
        CONF_ALERT_HOLD: DEFAULT_ALERT_HOLD,
    }


REAUTH_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_USERNAME): _USERNAME,
        probatio.Optional(CONF_PASSWORD): _PASSWORD,
    }
)
