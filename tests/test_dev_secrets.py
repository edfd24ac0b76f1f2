"""Secrets in `anycloud dev`: the environment first, else the stack file's `secure:` value opened with
the passphrase the Pulumi CLI takes; each missing or unopenable one named in one line."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from components.dev.secrets import DevSecrets, MissingSecret
from components.pulumi_secrets import PassphraseError, StackDecrypter, _derive, passphrase
from components.stackfile import load_stack
from tests.services import REFERENCE

# From Pulumi's own tests (pkg/secrets/passphrase/manager_test.go): this state opens with "password".
PULUMI_STATE = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ=="
(SECRET,) = REFERENCE.secrets
VAR = "ANYCLOUD_SECRET_PAYMENT_API_KEY"
KEY = "anycloud:paymentApiKey"


def seal(plaintext: str, phrase: str = "password", state: str = PULUMI_STATE) -> str:
    """A value as `pulumi config set --secret` writes it under `state`."""
    nonce = os.urandom(12)
    key = _derive(base64.b64decode(state.split(":")[1]), phrase)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def stack(tmp_path, body: str):
    (tmp_path / "Pulumi.yaml").write_text("name: shop\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(body)
    return load_stack(tmp_path, "dev")


@pytest.fixture
def encrypted(tmp_path):
    return stack(tmp_path, f"encryptionsalt: {PULUMI_STATE}\nconfig:\n  {KEY}:\n    secure: {seal('sk-test-42')}\n")


def test_pulumis_own_state_opens_with_its_passphrase_and_not_another():
    assert StackDecrypter("Pulumi.dev.yaml", PULUMI_STATE, "password")
    with pytest.raises(PassphraseError, match=r"^Pulumi.dev.yaml: the passphrase in PULUMI_CONFIG_PASSPHRASE or "
                                              r"PULUMI_CONFIG_PASSPHRASE_FILE does not open this stack's secrets"):
        StackDecrypter("Pulumi.dev.yaml", PULUMI_STATE, "password123")


def test_the_stack_value_is_decrypted_with_the_passphrase(encrypted):
    secrets = DevSecrets(encrypted, {"PULUMI_CONFIG_PASSPHRASE": "password"})
    assert secrets.missing([SECRET]) == []
    assert secrets.values([SECRET])["payment-api-key"].get() == "sk-test-42"


def test_the_environment_wins_over_the_stack(encrypted):
    secrets = DevSecrets(encrypted, {VAR: "from-env", "PULUMI_CONFIG_PASSPHRASE": "wrong"})
    assert secrets.missing([SECRET]) == []
    assert secrets.values([SECRET])["payment-api-key"].get() == "from-env"


def test_an_encrypted_value_without_a_passphrase_says_both_ways(encrypted):
    secrets = DevSecrets(encrypted, {})
    line = (f"secret payment-api-key: {VAR} is not set and {KEY} in Pulumi.dev.yaml is encrypted; set "
            f"PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to the stack's passphrase, or export {VAR}=VALUE")
    assert secrets.missing([SECRET]) == [line]
    with pytest.raises(MissingSecret) as info:
        secrets.values([SECRET])["payment-api-key"].get()
    assert str(info.value) == line


def test_a_wrong_passphrase_is_one_line(encrypted):
    (line,) = DevSecrets(encrypted, {"PULUMI_CONFIG_PASSPHRASE": "nope"}).missing([SECRET])
    assert line.startswith("secret payment-api-key: Pulumi.dev.yaml: the passphrase in PULUMI_CONFIG_PASSPHRASE")
    assert "\n" not in line


def test_the_passphrase_file_is_read_trimmed_and_an_empty_variable_is_a_passphrase(tmp_path):
    phrase_file = tmp_path / "phrase"
    phrase_file.write_text("password\n")
    assert passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase_file)}) == "password"
    assert passphrase({"PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase_file)}) == ""
    assert passphrase({}) is None
    with pytest.raises(PassphraseError, match=r"^PULUMI_CONFIG_PASSPHRASE_FILE .*/absent: cannot be read"):
        passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "absent")})


def test_a_value_that_does_not_decrypt_names_its_key(tmp_path):
    other = seal("x", phrase="other", state="v1:AAAAAAAAAAA=:v1:AAAAAAAAAAAAAAAA:AAAA")
    config = stack(tmp_path, f"encryptionsalt: {PULUMI_STATE}\nconfig:\n  {KEY}:\n    secure: {other}\n")
    with pytest.raises(MissingSecret, match=rf"^secret payment-api-key: Pulumi.dev.yaml: {KEY}: the secure value does "
                                            "not decrypt"):
        DevSecrets(config, {"PULUMI_CONFIG_PASSPHRASE": "password"}).values([SECRET])["payment-api-key"].get()


def test_another_secrets_provider_is_left_to_the_pulumi_cli(tmp_path):
    config = stack(tmp_path, f"secretsprovider: awskms://alias/shop\nencryptedkey: AQID\nconfig:\n  {KEY}:\n"
                             "    secure: AAABAGZvbw==\n")
    (line,) = DevSecrets(config, {"PULUMI_CONFIG_PASSPHRASE": "password"}).missing([SECRET])
    assert line == (f"secret payment-api-key: Pulumi.dev.yaml holds {KEY} encrypted by awskms://alias/shop, which only "
                    f"the Pulumi CLI opens; export {VAR}=VALUE, or take the stack's value with the Pulumi CLI: export "
                    f"{VAR}=$(pulumi config get {KEY} -s dev)")


def test_a_stack_without_the_value_says_where_it_would_be(tmp_path):
    (line,) = DevSecrets(stack(tmp_path, "config:\n  anycloud:cloud: aws\n"), {}).missing([SECRET])
    assert line.startswith(f"secret payment-api-key: {VAR} is not set and Pulumi.dev.yaml has no secure {KEY}; export {VAR}=")
