"""Verify before measuring: every endpoint answers correctly, then a warm-up that is not counted."""

from __future__ import annotations

import httpx

from api_common import protocols
from api_common.contract import CHAINS, SAMPLE
from api_model.service import predictions
from lab.smoke import expected_prediction
from lab.stack import Stack


class VerificationError(RuntimeError):
    pass


def verify(stack: Stack, timeout: float = 5.0, chains: tuple[str, ...] = CHAINS) -> list[str]:
    """Check health, predictions and one error per service; raise on the first wrong answer.

    A chain at a user's URL is checked through its scoring handler: a right prediction proves its models.
    """
    checks = []
    services = [s for s in stack.services if s.chain in chains and (s.external_url or not stack.remote(s.chain))]
    with httpx.Client(timeout=timeout) as client:
        for svc in services:
            protocol = protocols.get(svc.protocol)  # a model server's own, or the lab's contract
            params, body = protocol.request(SAMPLE, svc.settings.default_model if svc.role == "model" else "")
            try:
                health = client.get(svc.health_url)
                predict = client.post(svc.predict_url, params=params if svc.role == "model" else {}, json=body)
                bad = client.post(svc.predict_url, content=b"[", headers={"Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                raise VerificationError(f"{svc.name} at {svc.url} did not answer: {exc!r}") from None
            if health.status_code != 200 or (svc.health_json and health.json() != {"status": "OK"}):
                raise VerificationError(f"{svc.name}: healthcheck answered {health.status_code} {health.text[:100]}")
            if predict.status_code != 200:
                raise VerificationError(f"{svc.name}: predict answered {predict.status_code} {predict.text[:200]}")
            if svc.role == "scoring":
                want = expected_prediction(stack, svc.chain)
            else:
                want = predictions(svc.settings, svc.settings.default_model, [SAMPLE])[0]
            got = protocol.answer(predict.json()).get("detail")
            if not isinstance(got, (int, float)) or abs(got - want) > 1e-9:
                raise VerificationError(f"{svc.name}: predicted {got!r}, expected {want!r}")
            if svc.protocol == "lab" and (bad.status_code != 400 or "error" not in bad.json()):
                raise VerificationError(f"{svc.name}: malformed JSON answered {bad.status_code}, expected 400")
            client_errors = svc.role != "model" or svc.settings.runner().client_errors
            if client_errors and not 400 <= bad.status_code < 500:  # a model server's own error shape, a 4xx
                raise VerificationError(f"{svc.name}: malformed JSON answered {bad.status_code}, expected a 4xx")
            said = "error shape ok" if client_errors else f"malformed JSON answered {bad.status_code} (its own)"
            checks.append(f"{svc.name}: health, prediction {got:.6f} and {said}")
    return checks


def warm_up(stack: Stack, requests_per_chain: int = 20, chains: tuple[str, ...] = CHAINS) -> None:
    """Open connections and load code paths in every worker; the answers are thrown away."""
    with httpx.Client(timeout=5.0) as client:
        for chain in chains:
            for _ in range(requests_per_chain):
                client.post(stack.scoring(chain).predict_url, json=SAMPLE)
