"""Constants for the Lookback NVR integration: domain, config keys, defaults, signals."""

from typing import Final

DOMAIN: Final = "lookback"
NAME: Final = "Lookback NVR"

# NVR entry data (config flow user / reconfigure steps).
CONF_STORAGE_PATH: Final = "storage_path"
CONF_STORAGE_MAX_GB: Final = "storage_max_gb"  # 0 = no cap
CONF_PRE_ROLL: Final = "pre_roll"
CONF_POST_ROLL: Final = "post_roll"
CONF_SMTP_ENABLED: Final = "smtp_enabled"
CONF_SMTP_HOST: Final = "smtp_host"  # bind address
CONF_SMTP_PORT: Final = "smtp_port"

DEFAULT_STORAGE_SUBDIR: Final = "lookback"  # below HA's media folder
DEFAULT_STORAGE_MAX_GB: Final = 0.0
DEFAULT_PRE_ROLL: Final = 5.0
DEFAULT_POST_ROLL: Final = 10.0
DEFAULT_SMTP_ENABLED: Final = False
DEFAULT_SMTP_HOST: Final = "0.0.0.0"  # noqa: S104  # cameras on the LAN must reach it
DEFAULT_SMTP_PORT: Final = 2525

# Camera subentries.
SUBENTRY_CAMERA: Final = "camera"
CONF_CAMERA_ID: Final = "camera_id"  # slug chosen once at creation: folder name, unique ids
CONF_URL: Final = "url"
CONF_DETECT_URL: Final = "detect_url"
CONF_SNAPSHOT_URL: Final = "snapshot_url"
CONF_TRANSPORT: Final = "transport"
CONF_MAX_CLIP_SECONDS: Final = "max_clip_seconds"
CONF_RETENTION_DAYS: Final = "retention_days"  # 0 = keep until the size caps need room
CONF_RETENTION_GB: Final = "retention_gb"  # 0 = no per-camera cap
# CONF_USERNAME / CONF_PASSWORD / CONF_NAME come from homeassistant.const.

# A camera's motion detection (the subentry's "motion" step); masks and zones are kept as the
# text typed (one polygon per line, see core/polygons.py), validated when saved.
CONF_MOTION_SENSITIVITY: Final = "motion_sensitivity"
CONF_MOTION_MIN_AREA: Final = "motion_min_area"
CONF_MOTION_MIN_DURATION: Final = "motion_min_duration"
CONF_MOTION_ACTIVE_FPS: Final = "motion_active_fps"
CONF_MOTION_MASKS: Final = "motion_masks"
CONF_MOTION_ZONES: Final = "motion_zones"
MOTION_KEYS: Final = (
    CONF_MOTION_SENSITIVITY,
    CONF_MOTION_MIN_AREA,
    CONF_MOTION_MIN_DURATION,
    CONF_MOTION_ACTIVE_FPS,
    CONF_MOTION_MASKS,
    CONF_MOTION_ZONES,
)

DEFAULT_TRANSPORT: Final = "tcp"
DEFAULT_MAX_CLIP_SECONDS: Final = 600.0
DEFAULT_RETENTION_DAYS: Final = 14.0
DEFAULT_RETENTION_GB: Final = 0.0

PROBE_TIMEOUT_S: Final = 15.0

# Bus events.
EVENT_EVENT_STARTED: Final = "lookback_event_started"
EVENT_EVENT_ENDED: Final = "lookback_event_ended"
EVENT_CLIP_SAVED: Final = "lookback_clip_saved"

# Services.
SERVICE_SAVE_CLIP: Final = "save_clip"
SERVICE_SNAPSHOT: Final = "snapshot"
ATTR_PRE_ROLL: Final = "pre_roll"
ATTR_POST_ROLL: Final = "post_roll"
ATTR_DURATION: Final = "duration"

# HTTP: every stored file (clip, thumbnail, snapshot) by its path below the storage folder.
FILE_URL_PREFIX: Final = "/api/lookback/file"
SIGNED_URL_LIFETIME_S: Final = 24 * 3600

# Repairs: a camera down this long gets an issue.
SOURCE_DOWN_REPAIR_AFTER_S: Final = 300.0
# Stream statistics live in memory; sensors read them this often (no camera I/O).
STATS_REFRESH_S: Final = 30.0
