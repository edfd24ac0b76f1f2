"""Delayed sends rendered on GCP (components/gcp/delays.py), on the reference service's prod stack."""

from __future__ import annotations


def test_a_sent_to_queue_gets_a_cloud_tasks_queue_pinned_to_its_topic(gcp_prod):
    (queue,) = gcp_prod.of_type("gcp:cloudtasks/queue:Queue")
    (topic,) = [t for t in gcp_prod.of_type("gcp:pubsub/topic:Topic") if t.name == "orders"]
    target = queue.inputs["httpTarget"]
    assert target["httpMethod"] == "POST"
    assert target["uriOverride"] == {"scheme": "HTTPS", "host": "pubsub.googleapis.com", "uriOverrideEnforceMode": "ALWAYS",
                                     "pathOverride": {"path": f"/v1/{topic.id}:publish"}}
    delivery = target["oauthToken"]["serviceAccountEmail"]
    assert target["oauthToken"]["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert queue.inputs["retryConfig"]["maxAttempts"] == -1 and "maxRetryDuration" not in queue.inputs["retryConfig"]
    publishers = [m for m in gcp_prod.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                  if m.inputs["member"] == f"serviceAccount:{delivery}"]
    assert [(m.inputs["topic"], m.inputs["role"]) for m in publishers] == [(topic.id, "roles/pubsub.publisher")]
    assert any(d.endswith("::api-cloudtasks") for d in queue.dependencies)


def test_only_the_senders_may_enqueue_and_are_wired(gcp_prod):
    (queue,) = gcp_prod.of_type("gcp:cloudtasks/queue:Queue")
    functions = {f.name: f for f in gcp_prod.of_type("gcp:cloudfunctionsv2/function:Function")}
    wired = {name for name, f in functions.items()
             if "ANYCLOUD_DELAYS_ORDERS" in f.inputs["serviceConfig"]["environmentVariables"]}
    assert wired == {"create-order"}
    env = functions["create-order"].inputs["serviceConfig"]["environmentVariables"]
    assert env["ANYCLOUD_DELAYS_ORDERS"] == queue.id
    (member,) = gcp_prod.of_type("gcp:cloudtasks/queueIamMember:QueueIamMember")
    assert member.inputs["role"] == "roles/cloudtasks.enqueuer" and member.inputs["name"] == queue.inputs["name"]
    assert member.inputs["member"] == f"serviceAccount:{functions['create-order'].inputs['serviceConfig']['serviceAccountEmail']}"


def test_failing_delayed_publishes_alert(gcp_prod):
    (queue,) = gcp_prod.of_type("gcp:cloudtasks/queue:Queue")
    (alert,) = [a for a in gcp_prod.of_type("gcp:monitoring/alertPolicy:AlertPolicy") if a.name == "orders-delays-failing"]
    assert f'resource.labels.queue_id="{queue.inputs["name"]}"' in alert.inputs["conditions"][0]["conditionThreshold"]["filter"]
