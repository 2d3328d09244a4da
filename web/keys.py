"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from compliance.evidence import EvidenceSources
from config.settings import Settings
from integration.notify import Notifier
from interview.calls import Calls
from interview.contract_flow import InterviewServices
from kyc.face_engine import Description
from kyc.identity_paths import IdentityRules
from kyc.sources import IdentitySources
from kyc.workers import IdentityChecks
from live_identity.sessions import VerificationSessions
from signing.contract.workers import ContractRenderer
from signing.service import SigningService
from signing.workers import PdfValidator
from store.blobs import BlobStore
from web.auth.api_keys import ApiKey
from web.auth.sessions import Session, SessionStore
from web.auth.throttle import LoginThrottle
from web.metrics import Metrics
from web.page_templates import Pages
from web.signalling_sockets import SignallingSockets

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", SessionStore)
THROTTLE = web.AppKey("throttle", LoginThrottle)
BLOBS = web.AppKey("blobs", BlobStore)
# Selfies, liveness clips and stills: a namespace of their own (store/blobs.py).
BIOMETRIC_BLOBS = web.AppKey("biometric_blobs", BlobStore)
PAGES = web.AppKey("pages", Pages)
KYC_WORKERS = web.AppKey("kyc_workers", IdentityChecks)
IDENTITY_SOURCES = web.AppKey("identity_sources", IdentitySources)
IDENTITY_RULES = web.AppKey("identity_rules", IdentityRules)
CALLS = web.AppKey("calls", Calls)
LIVE_SESSIONS = web.AppKey("live_sessions", VerificationSessions)
SIGNALLING_SOCKETS = web.AppKey("signalling_sockets", SignallingSockets)
SIGNING = web.AppKey("signing", SigningService)
NOTIFIER = web.AppKey("notifier", Notifier)
VALIDATION = web.AppKey("validation", PdfValidator)
# What the identity checks compare faces with: /readyz and the startup log say it.
FACE_MODEL = web.AppKey("face_model", Description)
CONTRACT_RENDERER = web.AppKey("contract_renderer", ContractRenderer)
METRICS = web.AppKey("metrics", Metrics)
# The domain's services as the interview and compliance code takes them.
INTERVIEW = web.AppKey("interview", InterviewServices)
EVIDENCE = web.AppKey("evidence", EvidenceSources)

REQUEST_ID = web.RequestKey("request_id", str)
SESSION = web.RequestKey("session", Session)
LANGUAGE = web.RequestKey("language", str)
API_KEY = web.RequestKey("api_key", ApiKey)
