"""The one configuration object, read from ``enclave.yaml`` (optional) and validated once at start-up.

Every field has a default so that no file is needed to start: with none, enclave serves the embedded default
model. Unknown keys are errors, not silently ignored, so a typo cannot leave a setting unapplied.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from enclave.errors import ConfigError

DEFAULT_MODEL_NAME = "smollm2-135m"
# The default embedding model (all-MiniLM-L6-v2, converted from its pip package into the data folder once).
DEFAULT_EMBEDDING_NAME = "all-minilm-l6-v2"
EMBEDDED_PROVIDER = "embedded"

TrustZone = Literal["local", "external"]
# What a model serves: chat and text completions, or embeddings. A request for the other operation is refused.
ModelType = Literal["chat", "embedding"]
DataClass = Literal["public", "internal", "confidential", "restricted"]
DATA_CLASSES: tuple[DataClass, ...] = ("public", "internal", "confidential", "restricted")
# The sovereignty invariant: these never reach an external zone, whatever the rules say.
NEVER_EXTERNAL: frozenset[str] = frozenset({"confidential", "restricted"})
_NAME = r"^[A-Za-z0-9._:-]+$"
CONFIG_ENV = "ENCLAVE_CONFIG"
CONFIG_FILE = "enclave.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingDefaults(_Strict):
    """Sampling used when a request does not say otherwise (llama.cpp's own defaults)."""

    temperature: Annotated[float, Field(ge=0, le=2)] = 0.8
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    top_k: Annotated[int, Field(ge=0)] = 40
    min_p: Annotated[float, Field(ge=0, le=1)] = 0.05
    repeat_penalty: Annotated[float, Field(gt=0)] = 1.0
    penalty_last_n: Annotated[int, Field(ge=-1)] = 64


class CapabilitiesConfig(_Strict):
    """What a target can do, as routing sees it: a request that needs a capability skips targets without it.

    Unset fields keep the default of the target's kind (see ``enclave.routing.capabilities``). A list names
    exactly what the target can do: ``[tools, json_object]`` means those and nothing else.
    """

    tools: bool | None = None
    parallel_tool_calls: bool | None = None  # honours ``parallel_tool_calls: false``
    json_object: bool | None = None
    json_schema: bool | None = None
    logprobs: bool | None = None
    n: bool | None = None
    vision: bool | None = None
    # Continues a trailing assistant message rather than answering after it (used to rescue broken streams).
    assistant_prefill: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            unknown = [v for v in value if v not in cls.model_fields]
            if unknown:
                raise ValueError(f"unknown capabilities {unknown}; known: {', '.join(cls.model_fields)}")
            return {name: name in value for name in cls.model_fields}
        return value


class ModelConfig(_Strict):
    """One model served by the embedded llama.cpp engine: a chat model, or an embedding model (``type:
    embedding``), for which ``parallel`` counts inputs evaluated together and ``queue`` inputs that may wait."""

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/-]+$")]
    type: ModelType = "chat"
    path: Path | None = None
    repo: str | None = None
    file: str | None = None
    revision: str | None = None
    aliases: list[str] = []
    # Tokens per sequence (prompt + completion); unset: the model's trained context, at most 4096.
    context: Annotated[int | None, Field(ge=64)] = None
    threads: Annotated[int | None, Field(ge=1)] = None
    batch: Annotated[int, Field(ge=16, description="most tokens in one llama_decode call")] = 512
    parallel: Annotated[int, Field(ge=1, le=256, description="sequences decoded together")] = 8
    queue: Annotated[int, Field(ge=0, description="requests that may wait for a free sequence")] = 64
    prefill_chunk: Annotated[int, Field(ge=16, description="prompt tokens per sequence per step")] = 256
    gpu_layers: Annotated[int, Field(ge=0)] = 0
    chat_template: str | None = None
    sampling: SamplingDefaults = SamplingDefaults()
    capabilities: CapabilitiesConfig = CapabilitiesConfig()
    # Embedding models only: the model was trained so that a prefix of its vector is itself an embedding
    # (Matryoshka), so ``dimensions`` may shorten it. Nothing in a GGUF says so; the operator does.
    shortenable: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.path is not None and (self.repo or self.file):
            raise ValueError("give either 'path' or 'repo' + 'file', not both")
        if (self.repo is None) != (self.file is None):
            raise ValueError("'repo' and 'file' go together")
        if self.path is None and self.repo is None and not self.is_default:
            raise ValueError(
                f"a model needs 'path' or 'repo' + 'file' (only {DEFAULT_MODEL_NAME} and, with type: embedding, "
                f"{DEFAULT_EMBEDDING_NAME} come built in)"
            )
        if self.type == "embedding" and self.chat_template is not None:
            raise ValueError("an embedding model has no chat template")
        if self.type == "chat" and self.shortenable:
            raise ValueError("'shortenable' is for embedding models (type: embedding)")
        return self

    @property
    def is_default(self) -> bool:
        """The built-in model of its type, which needs no file: the packaged SmolLM2 or all-MiniLM-L6-v2."""
        default = DEFAULT_MODEL_NAME if self.type == "chat" else DEFAULT_EMBEDDING_NAME
        return self.path is None and self.repo is None and self.name == default

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    # Without keys, the only safe exposure is loopback: listening wider with auth off must be asked for by name.
    allow_unauthenticated_remote: bool = False
    # On SIGTERM or Ctrl-C: how long requests in flight may take to finish before their streams are ended.
    drain_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    # The longest request body in bytes (413 beyond it); unset: sized to the largest context served (body_limit).
    max_body_bytes: Annotated[int | None, Field(ge=1024)] = None
    # The longest request line and headers together, in bytes (431 beyond it).
    max_header_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = 32 * 1024


# A body's default bound: generous bytes per token of context (a token is a few characters, and JSON escapes
# can make one character six bytes), with a floor for small models. An upstream's context is not known: it
# counts as UPSTREAM_CONTEXT tokens.
BODY_BYTES_PER_TOKEN = 64
BODY_FLOOR = 2 << 20
UPSTREAM_CONTEXT = 131_072
_EMBEDDED_CONTEXT = 4096  # what an embedded model serves at most without ``context`` (see engines.llamacpp)


class Timeouts(_Strict):
    """Seconds; each bounds one way an upstream can go silent, so every call ends inside a known budget."""

    connect: Annotated[float, Field(gt=0)] = 5.0
    first_token: Annotated[float, Field(gt=0, description="from sending the request to the first token")] = 60.0
    idle: Annotated[float, Field(gt=0, description="between two chunks of a stream, once it has begun")] = 60.0
    total: Annotated[float, Field(gt=0, description="a non-streamed request's whole answer")] = 600.0


class CircuitConfig(_Strict):
    failures: Annotated[int, Field(ge=1, description="consecutive failures that open the circuit")] = 5
    cooldown: Annotated[float, Field(gt=0, description="seconds before a probe request is let through")] = 30.0


class ProviderModelConfig(_Strict):
    """Settings of one model a provider serves, over the provider's own."""

    capabilities: CapabilitiesConfig = CapabilitiesConfig()


class ProviderConfig(_Strict):
    """An OpenAI-compatible upstream: OpenAI, Azure-style endpoints, vLLM, llama.cpp server, Ollama, enclave."""

    name: Annotated[str, Field(pattern=_NAME)]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    zone: TrustZone
    # The key itself never appears in the file: only the name of the environment variable that holds it.
    api_key_env: str | None = None
    api_key_header: str = "Authorization"
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    timeouts: Timeouts = Timeouts()
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    backoff: Annotated[float, Field(ge=0, description="first retry delay in seconds, doubled each time")] = 0.25
    circuit: CircuitConfig = CircuitConfig()
    capabilities: CapabilitiesConfig = CapabilitiesConfig()
    # By the model name the provider knows (a target's model part): overrides for that model only.
    models: dict[str, ProviderModelConfig] = {}

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == EMBEDDED_PROVIDER:
            raise ValueError(f"{EMBEDDED_PROVIDER!r} is the built-in provider of the models: section")
        return value

    @field_validator("headers")
    @classmethod
    def _no_secrets_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.lower() in {"authorization", "api-key", "x-api-key"}:
                raise ValueError(f"header {key!r} carries a secret: use api_key_env instead")
        return value


class TargetConfig(_Strict):
    """One place a public model can be served: a provider and the model name it knows."""

    provider: str
    model: str

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        # "provider/model" is the short form; the model part may itself contain slashes.
        if isinstance(value, str):
            provider, sep, model = value.partition("/")
            if not sep or not provider or not model:
                raise ValueError(f"a target is 'provider/model', got {value!r}")
            return {"provider": provider, "model": model}
        return value

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class RouteConfig(_Strict):
    """A public model name clients use, served by its targets in order of preference; ``type: embedding`` for
    one that serves /v1/embeddings (its targets are embedding models)."""

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/-]+$")]
    type: ModelType = "chat"
    aliases: list[str] = []
    targets: Annotated[list[TargetConfig], Field(min_length=1)]

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class RuleMatch(_Strict):
    """Every field given must match (and); a list matches any of its items (or)."""

    models: list[str] | None = None
    projects: list[str] | None = None
    data_classes: list[DataClass] | None = None
    min_prompt_chars: Annotated[int | None, Field(ge=0)] = None
    max_prompt_chars: Annotated[int | None, Field(ge=0)] = None


class RuleConfig(_Strict):
    name: Annotated[str, Field(max_length=64, pattern=_NAME)]  # the ledger's rule column
    when: RuleMatch = RuleMatch()
    action: Literal["route", "forbid_external", "require_local", "deny"]
    target: TargetConfig | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _target_for_route(self) -> RuleConfig:
        if (self.action == "route") != (self.target is not None):
            raise ValueError("'target' is required for action 'route' and only allowed there")
        return self


class PolicyConfig(_Strict):
    default_data_class: DataClass = "internal"
    external_data_classes: list[DataClass] = ["public", "internal"]
    # Where require_local sends a request whose model has no local target.
    local_model: str | None = None
    rules: list[RuleConfig] = []

    @field_validator("external_data_classes")
    @classmethod
    def _sovereignty(cls, value: list[str]) -> list[str]:
        if leaking := NEVER_EXTERNAL.intersection(value):
            raise ValueError(f"{sorted(leaking)} data never goes to an external zone; this cannot be configured")
        return value


class CustomPattern(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="the entity type it reports")]
    pattern: str
    data_class: DataClass = "confidential"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class EntitiesConfig(_Strict):
    """Named entities (people, places, addresses, organisations). ``builtin``: word lists and patterns, no
    model; ``spacy``/``presidio``: that library's English model, when installed; ``none``: off. Organisations
    are not personal data (a company is no natural person) and are reported only when listed in ``types``."""

    backend: Literal["builtin", "spacy", "presidio", "none"] = "builtin"
    types: list[Literal["PERSON", "LOCATION", "ADDRESS", "ORGANIZATION"]] = ["PERSON", "LOCATION", "ADDRESS"]
    spacy_model: str = "en_core_web_sm"  # an installed package name or a model directory, never downloaded


GuardAction = Literal["keep_local", "pseudonymize", "block", "allow"]


class GuardProjectConfig(_Strict):
    """A project's own guard settings (by the project's name): its per-type actions beat the global ones."""

    actions: dict[str, GuardAction] = {}


class GuardConfig(_Strict):
    """The privacy guard. ``keep_local``: findings raise the request's data class (PCI/PHI/secrets to
    restricted, other personal data to confidential), so the policy keeps it inside; ``pseudonymize``: a
    request routed to an external target carries placeholders instead of the values, and the answer gets the
    values back; ``block``: any finding is a 400 naming the entity types; ``allow``: findings are only
    counted."""

    enabled: bool = True
    entities: EntitiesConfig = EntitiesConfig()
    action: GuardAction = "keep_local"
    # Per finding type (PERSON, ORGANIZATION, US_SSN, ...): what a finding of that type does to a request that
    # would go to an external target; types not listed take ``action``. The strictest over a request's findings
    # wins: block > keep_local > pseudonymize > allow.
    actions: dict[str, GuardAction] = {}
    projects: dict[str, GuardProjectConfig] = {}
    # Answers from external targets: personal data in them that the request did not carry is counted in the
    # audit log (flag), and a non-streamed answer holding some is refused (block; a stream is only flagged).
    answers: Literal["off", "flag", "block"] = "off"
    # personal: a date is personal data where the text ties it to a person: a birth date ("DOB", "geb.", "née
    # le"), or a date of a person's health ("Admitted:", "operata 09/06"); a date alone (a release, a deadline) is
    # not. birth: birth dates only. all: every full calendar date besides, as HIPAA's Safe Harbor method treats
    # every date of a patient's record.
    dates: Literal["personal", "birth", "all"] = "personal"
    custom_patterns: list[CustomPattern] = []
    deny_terms: list[str] = []
    deny_terms_class: DataClass = "restricted"
    entity_classes: dict[str, DataClass] = {}
    # The most characters the guard reads for one request, all its texts together (messages, tool arguments and
    # definitions, schemas). Beyond it the guard does not scan and fails closed: the request is restricted (kept
    # local), or refused where the action is block. 500,000 characters is about 125,000 tokens of prose.
    max_chars: Annotated[int, Field(ge=1)] = 500_000
    # A request with more characters than this is scanned by one of `workers` worker processes, so neither the
    # event loop nor the engines serving every other request and stream are held up; a shorter one inline (the
    # trip to a worker would cost more than its scan, a few microseconds a character).
    inline_chars: Annotated[int, Field(ge=0)] = 2_000
    workers: Annotated[int, Field(ge=1, le=64)] = 2

    @model_validator(mode="after")
    def _known_types(self) -> GuardConfig:
        # Imported here: the guard's type registry imports this module's data classes.
        from enclave.guard.findings import DEFAULT_CLASSES, DENY_TERM

        known = {*DEFAULT_CLASSES, *(c.name for c in self.custom_patterns), DENY_TERM}
        tables = {"actions": self.actions} | {f"projects.{n}.actions": p.actions for n, p in self.projects.items()}
        for key, table in tables.items():
            if unknown := sorted(set(table) - known):
                raise ValueError(
                    f"{key}: unknown finding type {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
                )
        return self


class StoreConfig(_Strict):
    """Where keys, projects, usage and the audit log live: SQLite in the data folder unless a URL is given."""

    # e.g. postgresql+psycopg://enclave@db.internal/enclave; a password belongs in url_env, not in the file.
    url: str | None = None
    url_env: str | None = None


class AuthConfig(_Strict):
    # auto: keys are required as soon as the server listens beyond loopback.
    mode: Literal["auto", "on", "off"] = "auto"
    # A key's record is re-read at most this often per process; revocation through this server is immediate.
    cache_seconds: Annotated[float, Field(ge=0)] = 1.0


class SsoConfig(_Strict):
    """OIDC single sign-on for the dashboard (authorization code with PKCE). Off unless configured. Nothing
    else is contacted: the issuer's discovery document, its JWKS and token endpoint only."""

    issuer: Annotated[str, Field(pattern=r"^https?://")]  # e.g. https://login.example.com/realms/corp
    client_id: str
    client_secret: str | None = None  # or, better, the name of the variable that holds it:
    client_secret_env: str | None = None
    scopes: list[str] = ["openid", "profile", "email"]
    # The ID token claim holding the user's groups or roles: a name or a dotted path (realm_access.roles).
    role_claim: str = "roles"
    # Claim values to enclave roles; a user with none of them is refused. Several matches: the first listed wins.
    roles: dict[str, Literal["admin", "auditor", "viewer", "developer"]]
    project_claim: str | None = None  # when set, the user sees this project's traffic only
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    # The URL the provider sends the browser back to; unset: this server's /ui/sso/callback as the browser saw it.
    redirect_url: str | None = None

    @model_validator(mode="after")
    def _secret_once(self) -> SsoConfig:
        if self.client_secret is not None and self.client_secret_env is not None:
            raise ValueError("give client_secret or client_secret_env, not both")
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid'")
        if not self.roles:
            raise ValueError("roles: map at least one claim value to an enclave role")
        return self


class DashboardConfig(_Strict):
    """Dashboard sessions: a session ends ``session_seconds`` after sign-in, or after ``idle_seconds`` unused."""

    session_seconds: Annotated[int, Field(ge=60)] = 8 * 3600
    idle_seconds: Annotated[int, Field(ge=60)] = 3600


class LimitsConfig(_Strict):
    """Requests and tokens per minute; a key's own limits nest inside its project's and the tightest wins."""

    # memory: this process only (one replica); redis: shared by every replica.
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_rpm: Annotated[int | None, Field(ge=1, description="default for keys without their own")] = None
    key_tpm: Annotated[int | None, Field(ge=1)] = None


class LedgerConfig(_Strict):
    """Usage rows and audit entries are written in batches, off the request path."""

    flush_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    batch: Annotated[int, Field(ge=1)] = 1000
    # Rows waiting while the database is unreachable; beyond this, new requests are refused (503), not lost.
    max_pending: Annotated[int, Field(ge=100)] = 100_000


class AuditConfig(_Strict):
    """Seals and checkpoints are Ed25519-signed with a private key kept apart from the store; verification trusts
    the pinned public keys. See docs/access.md for which attacker each measure stops."""

    # Signed checkpoints (chain head and length) go to this file (default <data_dir>/audit-checkpoints.jsonl)
    # and to the mirror, a second place on other storage: one rolled back with the database shows in the other.
    checkpoint_file: Path | None = None
    checkpoint_mirror: Path | None = None
    checkpoint_seconds: Annotated[float, Field(ge=0)] = 60.0
    # The private key (PEM); unset: $XDG_CONFIG_HOME/enclave/audit-signing.key, created on first use unless
    # public_keys are pinned. The environment variable, when set, holds the key itself and wins.
    signing_key_file: Path | None = None
    signing_key_env: str = "ENCLAVE_AUDIT_KEY"
    # The public keys verification trusts ("ed25519:<base64>", from `enclave audit keygen`); several while a key
    # is rotated. Pinned here, a replaced key file signs nothing that verifies.
    public_keys: list[Annotated[str, Field(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$")]] = []


class TokenPrice(_Strict):
    input: Annotated[float, Field(ge=0, description="per 1M prompt tokens")]
    output: Annotated[float, Field(ge=0, description="per 1M completion tokens")]


class PricesConfig(_Strict):
    """The price sheet: per-token prices by target ('provider/model'), hourly infrastructure cost by provider
    (for the embedded engine: 'embedded'), spread over the busy time each request measurably used."""

    currency: str = "USD"
    tokens: dict[str, TokenPrice] = {}
    hourly: dict[str, Annotated[float, Field(ge=0)]] = {}


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "enclave"


class Settings(_Strict):
    server: ServerConfig = ServerConfig()
    models: list[ModelConfig] = Field(
        default_factory=lambda: [
            ModelConfig(name=DEFAULT_MODEL_NAME),
            ModelConfig(name=DEFAULT_EMBEDDING_NAME, type="embedding"),
        ]
    )
    providers: list[ProviderConfig] = []
    routes: list[RouteConfig] = []
    policy: PolicyConfig = PolicyConfig()
    guard: GuardConfig = GuardConfig()
    store: StoreConfig = StoreConfig()
    auth: AuthConfig = AuthConfig()
    dashboard: DashboardConfig = DashboardConfig()
    sso: SsoConfig | None = None  # off unless configured
    limits: LimitsConfig = LimitsConfig()
    ledger: LedgerConfig = LedgerConfig()
    audit: AuditConfig = AuditConfig()
    prices: PricesConfig = PricesConfig()
    data_dir: Path = Field(default_factory=_default_data_dir)

    @property
    def body_limit(self) -> int:
        """``server.max_body_bytes``, else BODY_BYTES_PER_TOKEN per token of the largest context served (at
        least BODY_FLOOR): a prompt that fits a model's context is never refused for its size."""
        if self.server.max_body_bytes is not None:
            return self.server.max_body_bytes
        contexts = [m.context or _EMBEDDED_CONTEXT for m in self.models if m.type == "chat"]
        if self.providers:
            contexts.append(UPSTREAM_CONTEXT)
        return max(BODY_FLOOR, BODY_BYTES_PER_TOKEN * max(contexts, default=0))

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.models and not self.routes:
            raise ValueError("at least one model or route is needed")
        seen: set[str] = set()
        for name in [n for m in self.models for n in m.names] + [n for r in self.routes for n in r.names]:
            if name in seen:
                raise ValueError(f"model name or alias {name!r} is used twice")
            seen.add(name)
        providers = {p.name for p in self.providers}
        if len(providers) != len(self.providers):
            raise ValueError("provider names must be unique")
        embedded = {m.name: m.type for m in self.models}
        targets = [t for r in self.routes for t in r.targets]
        targets += [r.target for r in self.policy.rules if r.target is not None]
        for target in targets:
            if target.provider == EMBEDDED_PROVIDER:
                if target.model not in embedded:
                    raise ValueError(f"target {target}: no embedded model named {target.model!r}")
            elif target.provider not in providers:
                raise ValueError(f"target {target}: no provider named {target.provider!r}")
        for route in self.routes:
            # A route's targets all serve its operation: a chat model cannot answer for an embedding route.
            for target in route.targets:
                kind = embedded.get(target.model) if target.provider == EMBEDDED_PROVIDER else route.type
                if kind != route.type:
                    raise ValueError(f"route {route.name!r}: target {target} serves {kind}, not {route.type}")
        routed = {(t.provider, t.model) for t in targets}
        for provider in self.providers:
            # A model named here but in no target is a typo whose override would silently never apply.
            if stray := [m for m in provider.models if (provider.name, m) not in routed]:
                raise ValueError(f"providers {provider.name!r}: models {stray} are in no route or rule target")
        if self.policy.local_model is not None and self.policy.local_model not in seen:
            raise ValueError(f"policy.local_model {self.policy.local_model!r} is not a configured model")
        return self


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = _location(item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)


def find_config_file(explicit: Path | None) -> Path | None:
    """The file to read: the one named, else $ENCLAVE_CONFIG, else ./enclave.yaml if present, else none."""
    if explicit is not None:
        return explicit
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigError naming the bad key on any problem."""
    source = find_config_file(path)
    if source is None:
        return Settings()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(source), exc)) from exc
    return _resolve_relative_paths(settings, source.resolve().parent)


def _resolve_relative_paths(settings: Settings, base: Path) -> Settings:
    """Model paths in the file are relative to the file, not to wherever the server was started."""
    models = [
        m.model_copy(update={"path": base / m.path}) if m.path is not None and not m.path.is_absolute() else m
        for m in settings.models
    ]
    return settings.model_copy(update={"models": models})
