"""Every domain-separation label and format version, in one place.

Changing any value here is a format change: bump the version it belongs to and say so
in docs/format.md. Decoders reject versions they do not know.
"""

FORMAT_VERSION = 1  # vault.json, event lines, cards, key files, recovery kits


def is_current(version: object) -> bool:
    """True only for the integer FORMAT_VERSION (JSON `true` is not 1)."""
    return type(version) is int and version == FORMAT_VERSION


EVENT_SIG = b"takusu/event/v1\n"
CARD_SIG = b"takusu/card/v1\n"
FINGERPRINT = b"takusu/fingerprint/v1\n"
KEY_COMMIT = b"takusu/key-commit/v1"
ITEM_AAD = b"takusu/item/v1\n"
OWNER_WRAP_AAD = b"takusu/owner-wrap/v1\n"
GRANT_WRAP_INFO = b"takusu/wrap/v1\n"
VAULT_KEY_INFO = b"takusu/vault-key/v1\n"
KEYFILE_AAD = b"takusu/keyfile/v1\n"
RECOVERY_AAD = b"takusu/recovery/v1\n"
RECOVERY_CODE_CHECK = b"takusu/recovery-code/v1\n"
INDEX_KEY = b"takusu/index-key/v1\n"
INDEX_AAD = b"takusu/index/v1\n"
FINDER_AAD = b"takusu/finder/v1\n"  # finder.enc: titles to item ids at one owner head
MIRROR_STATE = "takusu/state-cache/v10"

CARD_ARMOR_BEGIN = "-----BEGIN TAKUSU CARD-----"
CARD_ARMOR_END = "-----END TAKUSU CARD-----"
KIT_ARMOR_BEGIN = "-----BEGIN TAKUSU RECOVERY KIT-----"
KIT_ARMOR_END = "-----END TAKUSU RECOVERY KIT-----"

SUITE_HYBRID = "MLKEM768_X25519/HKDF_SHA256/CHACHA20_POLY1305"
SUITE_CLASSIC = "X25519/HKDF_SHA256/CHACHA20_POLY1305"
SUITES = (SUITE_HYBRID, SUITE_CLASSIC)

ITEM_AEAD = "CHACHA20_POLY1305"

# Size limits: anything larger is refused before parsing.
MAX_LINE = 1 << 20  # one event line
MAX_LOG = 256 << 20  # one log file
MAX_CARD = 16 << 10
MAX_SMALL_FILE = 1 << 20  # vault.json, key files, configs, kits

# What one person may put in one record. Writers check these before sealing or signing,
# and readers refuse anything beyond them: one definition serves both (docs/format.md).
MAX_ITEM = 64 << 10  # an item version's payload as JSON, before padding and sealing
MAX_TITLE = 200  # characters of a title
MAX_TEXT = 2048  # characters of a username, URL or tag-like one-line value
MAX_FIELDS = 50  # custom fields of one item
MAX_FIELD_NAME = 64  # characters of a custom field's name (and of any field named in a receipt)
MAX_TAGS = 32
MAX_REASON = 500  # characters of a retrieval's reason
MAX_RECEIPT_FIELDS = 64  # fields named by one retrieval (the standard ones + MAX_FIELDS)
MAX_VAULT_NAME = 100
MAX_GRANTEES = 200  # members one item version is sealed for (keeps item.put under MAX_LINE)

# Sealed to people (one fresh key, AEAD, key commitment, HPKE wraps): views, 2FA codes,
# access requests. AAD and HPKE info both bind the parts named in docs/format.md.
VIEW_AAD = b"takusu/view/v1\n"  # vault, item, version, member
VIEW_WRAP_INFO = b"takusu/view-wrap/v1\n"
CODES_AAD = b"takusu/codes/v1\n"  # vault, item, member, codes id
CODES_WRAP_INFO = b"takusu/codes-wrap/v1\n"
REQUEST_AAD = b"takusu/request/v1\n"  # vault, member, request id
REQUEST_WRAP_INFO = b"takusu/request-wrap/v1\n"

MAX_CODES_PER_EVENT = 40_000  # codes in one `codes` event (a week of office hours is ~5,400)
MAX_REQUEST_TEXT = 1000  # characters of an access request's text (and of its reason)
