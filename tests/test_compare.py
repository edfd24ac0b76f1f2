"""The pull-request view (components/compare.py): what a change between two exports adds, removes
and replaces (protected first, each replacement with its reason, guesses marked), its picture's
difference and its cost's, as Markdown; `anycloud check --from OLD --compare NEW` in process."""

from __future__ import annotations

import copy
import json

import pytest

from components.compare import changes, markdown
from components.export import to_export
from tests.test_check_cli import check


@pytest.fixture(scope="module")
def old(prod):
    return to_export(prod)["deployment"]["resources"]


def named(resources, name, typ=None):
    return next(r for r in resources if r["urn"].endswith(f"::{name}") and (typ is None or r["type"] == typ))


def test_no_change_is_no_change(old):
    assert changes("aws", old, copy.deepcopy(old)) == []
    text = markdown(old, copy.deepcopy(old), "same")
    assert "**0 replaced, 0 removed, 0 added, 0 updated in place.**" in text and "No block or grant changes." in text
    assert "| at rest, a month |" in text and "| 0.00 |" in text


def test_a_replacement_forcing_property_replaces_and_protected_comes_first(old):
    new = copy.deepcopy(old)
    named(new, "orders", "aws:dynamodb/table:Table")["inputs"]["hashKey"] = "id"
    named(new, "get-order", "aws:lambda/function:Function")["inputs"]["memorySize"] = 1024
    found = changes("aws", old, new)
    assert [(c.kind, c.name, c.protected, c.guess) for c in found] == [
        ("replaced", "orders", True, False), ("updated", "get-order", False, False)]
    assert "hashKey changed: replacement-forcing (https://registry.terraform.io/" in found[0].why
    assert found[1].why == "memorySize"
    text = markdown(old, new)
    assert text.index("### Replaced") < text.index("Updated in place") and "| protected | `orders` |" in text
    assert "`pulumi preview --diff` is the authority" in text


def test_an_input_that_named_the_resource_is_a_marked_guess():
    def stack(name):
        return [{"urn": "urn:pulumi:prod::p::aws:sns/topicSubscription:TopicSubscription::alerts", "custom": True,
                 "type": "aws:sns/topicSubscription:TopicSubscription", "id": f"arn:aws:sns:eu-west-1:1:{name}:x",
                 "inputs": {"topic": name, "protocol": "email"}, "outputs": {}}]
    (change,) = changes("aws", stack("alarms"), stack("alerts"))
    assert change.kind == "replaced" and change.guess and "topic changed and named the resource" in change.why


def test_a_type_or_parent_change_replaces(old):
    new = copy.deepcopy(old)
    queue = named(new, "orders-dlq", "aws:sqs/queue:Queue")
    queue["urn"] = queue["urn"].replace("aws:sqs/queue:Queue::", "aws:sns/topic:Topic::")
    queue["type"] = "aws:sns/topic:Topic"
    (change,) = [c for c in changes("aws", old, new) if c.name == "orders-dlq"]
    assert change.kind == "replaced" and change.why == "type changed from aws:sqs/queue:Queue"


def test_removing_a_table_and_its_grants_shows_in_the_picture_and_the_cost(old):
    new = [r for r in copy.deepcopy(old) if not r["urn"].endswith("::idempotency")]
    for r in new:
        if r["type"] == "aws:iam/rolePolicy:RolePolicy":
            document = json.loads(r["inputs"]["policy"])
            document["Statement"] = [s for s in document["Statement"] if "Idempotency" not in s.get("Sid", "")]
            r["inputs"]["policy"] = json.dumps(document)
    found = changes("aws", old, new)
    assert ("removed", "idempotency", True) in [(c.kind, c.name, c.protected) for c in found]
    text = markdown(old, new)
    assert "- block idempotency · DynamoDB table" in text
    assert "- create-order · Lambda function (2 provisioned) --write--> idempotency · DynamoDB table" in text
    post = next(l for l in text.splitlines() if l.startswith("| per million `POST /orders`"))
    assert post.split("|")[4].strip().startswith("-")  # two writes fewer a request


def test_check_compare_prints_the_comment_and_the_pack_verdict(old, tmp_path):
    before, after = tmp_path / "old.json", tmp_path / "new.json"
    export = {"version": 3, "deployment": {"manifest": {}, "resources": old}}
    before.write_text(json.dumps(export))
    changed = copy.deepcopy(export)
    named(changed["deployment"]["resources"], "create-order-warm")["inputs"]["provisionedConcurrentExecutions"] = 3
    after.write_text(json.dumps(changed))
    code, out, err = check("--from", str(before), "--compare", str(after))
    assert code == 0, err
    assert out.startswith("## anycloud:") and "no mandatory violation" in out and "`create-order-warm`" in out
    rest = next(l for l in out.splitlines() if l.startswith("| at rest, a month"))
    assert rest.split("|")[4].strip().startswith("+")
    code, out, err = check("--from", str(before), "--compare", str(after), "--format", "json")
    assert code == 0 and json.loads(out)["changes"][0]["urn"].endswith("create-order-warm")
    code, _, err = check("--stack", "prod", "--compare", str(after))
    assert code == 2 and "--compare NEW compares with --from OLD" in err
