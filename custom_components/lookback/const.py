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
CONF_SMTP_USERNAME: Final = "smtp_username"  # set: cameras must sign in (AUTH PLAIN / LOGIN)
CONF_SMTP_PASSWORD: Final = "smtp_password"  # noqa: S105 - a config key, not a secret
CONF_SMTP_STARTTLS: Final = "smtp_starttls"  # offer STARTTLS with a generated certificate
CONF_SMTP_AUTH_WITHOUT_TLS: Final = "smtp_auth_without_tls"  # LAN cameras without TLS
CONF_SMTP_MAX_MB: Final = "smtp_max_mb"
CONF_SMTP_RATE: Final = "smtp_rate_per_minute"  # accepted mails per sender and minute; 0 = any

# Object detection (NVR entry): which detector, the user's own model, the remote server.
CONF_DETECTOR: Final = "detector"  # DetectorChoice value
CONF_DETECTOR_MODEL: Final = "detector_model"  # .tflite path; empty: the bundled model
CONF_DETECTOR_URL: Final = "detector_url"  # CodeProject.AI / DeepStack server
CONF_DETECTOR_API_KEY: Final = "detector_api_key"
DETECTOR_OFF: Final = "off"
DETECTOR_LOCAL: Final = "local"
DETECTOR_REMOTE: Final = "remote"
DETECTOR_CHOICES: Final = (DETECTOR_OFF, DETECTOR_LOCAL, DETECTOR_REMOTE)
DEFAULT_DETECTOR: Final = DETECTOR_OFF
# Installed on demand (HA's requirements machinery), not in the manifest: it has glibc wheels
# only, and HA OS / the HA container are musl, where installing Lookback must still work.
LITERT_REQUIREMENT: Final = "ai-edge-litert>=2.0.0"
DETECTOR_CHECK_TIMEOUT_S: Final = 15.0

DEFAULT_STORAGE_SUBDIR: Final = "lookback"  # below HA's media folder
DEFAULT_STORAGE_MAX_GB: Final = 0.0
DEFAULT_PRE_ROLL: Final = 5.0
DEFAULT_POST_ROLL: Final = 10.0
DEFAULT_SMTP_ENABLED: Final = False
DEFAULT_SMTP_HOST: Final = "0.0.0.0"  # noqa: S104  # cameras on the LAN must reach it
DEFAULT_SMTP_PORT: Final = 2525
DEFAULT_SMTP_MAX_MB: Final = 10.0
DEFAULT_SMTP_RATE: Final = 60

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

# A camera's object detection (the subentry's "objects" step).
CONF_OBJECTS_ENABLED: Final = "objects_enabled"
CONF_OBJECT_LABELS: Final = "object_labels"
CONF_OBJECT_MIN_SCORE: Final = "object_min_score"  # percent in the form, 0-1 in the core
CONF_OBJECT_MIN_AREA: Final = "object_min_area"
CONF_OBJECT_MAX_AREA: Final = "object_max_area"
CONF_OBJECT_MASKS: Final = "object_masks"
CONF_OBJECT_MIN_FRAMES: Final = "object_min_frames"
CONF_OBJECT_INTERVAL: Final = "object_interval"
CONF_OBJECT_FPS: Final = "object_fps"
CONF_OBJECT_MODEL: Final = "object_model"  # the camera's own .tflite; empty: the NVR's
OBJECT_KEYS: Final = (
    CONF_OBJECTS_ENABLED,
    CONF_OBJECT_LABELS,
    CONF_OBJECT_MIN_SCORE,
    CONF_OBJECT_MIN_AREA,
    CONF_OBJECT_MAX_AREA,
    CONF_OBJECT_MASKS,
    CONF_OBJECT_MIN_FRAMES,
    CONF_OBJECT_INTERVAL,
    CONF_OBJECT_FPS,
    CONF_OBJECT_MODEL,
)

# A camera's alerts (the subentry's "alerts" step): mail address and DVR channel, ONVIF events,
# HA entities that trigger, the alert sensor's hold time; its webhook id is made once.
CONF_MAIL_ADDRESS: Final = "mail_address"  # local part the camera (or its DVR) mails to
CONF_MAIL_CHANNEL: Final = "mail_channel"  # DVR channel number; 0 = none
CONF_ONVIF_ENABLED: Final = "onvif_enabled"
CONF_ONVIF_HOST: Final = "onvif_host"  # empty: the stream URL's host
CONF_ONVIF_PORT: Final = "onvif_port"
CONF_ONVIF_USERNAME: Final = "onvif_username"  # empty: the stream's credentials
CONF_ONVIF_PASSWORD: Final = "onvif_password"  # noqa: S105 - a config key
CONF_ONVIF_EVENTS: Final = "onvif_events"  # OnvifCategory values that trigger
CONF_TRIGGER_ENTITIES: Final = "trigger_entities"
CONF_ALERT_HOLD: Final = "alert_hold"
CONF_WEBHOOK_ID: Final = "webhook_id"
ALERT_KEYS: Final = (
    CONF_MAIL_ADDRESS,
    CONF_MAIL_CHANNEL,
    CONF_ONVIF_ENABLED,
    CONF_ONVIF_HOST,
    CONF_ONVIF_PORT,
    CONF_ONVIF_USERNAME,
    CONF_ONVIF_PASSWORD,
    CONF_ONVIF_EVENTS,
    CONF_TRIGGER_ENTITIES,
    CONF_ALERT_HOLD,
)
DEFAULT_ONVIF_PORT: Final = 80
DEFAULT_ALERT_HOLD: Final = 30.0
ONVIF_CHECK_TIMEOUT_S: Final = 15.0

DEFAULT_TRANSPORT: Final = "tcp"
DEFAULT_MAX_CLIP_SECONDS: Final = 600.0
DEFAULT_RETENTION_DAYS: Final = 14.0
DEFAULT_RETENTION_GB: Final = 0.0

PROBE_TIMEOUT_S: Final = 15.0

# Bus events.
EVENT_EVENT_STARTED: Final = "lookback_event_started"
EVENT_EVENT_ENDED: Final = "lookback_event_ended"
EVENT_CLIP_SAVED: Final = "lookback_clip_saved"
EVENT_ALERT: Final = "lookback_alert"
EVENT_OBJECT_DETECTED: Final = "lookback_object_detected"

# Services.
SERVICE_SAVE_CLIP: Final = "save_clip"
SERVICE_SNAPSHOT: Final = "snapshot"
SERVICE_TRIGGER: Final = "trigger"
ATTR_LABEL: Final = "label"
ATTR_MESSAGE: Final = "message"
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
