"""infra/template.yaml: lint, least privilege, and a deployment to moto's server over HTTP."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.resources import NOTIFIED_EVENTS
from handlers.readings import metrics
from handlers.readings import settings as ingest_settings
from infra import botocore_models, tables
from infra.deploy import TEMPLATE
from infra.functions import FUNCTIONS, RESIZE, Function
from tests.infra.conftest import DIGEST, NOT_IN_MOTO
from tests.packaging import closure

Template = dict[str, Any]


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement granted to a role or a managed policy, with its owner's name."""
    found = []
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    for name, policy in resources(template, "AWS::IAM::ManagedPolicy").items():
        found += [(name, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_wildcard_actions_or_resources(template: Template) -> None:
    for owner, statement in statements(template):
        for action in as_list(statement["Action"]):
            assert "*" not in action, (owner, action)
        for resource in as_list(statement["Resource"]):
            assert resource != "*", (owner, statement)


# What each call of the resize function needs, per AWS's authorization references, and where it
# makes it: HeadObject is authorised as s3:GetObject; a conditional DeleteObject (If-Match) needs
# s3:GetObject on the key as well (S3 user guide, "How to perform conditional deletes").
NEEDS: dict[tuple[str, str], set[tuple[str, str]]] = {
    ("s3", "get_object"): {("s3:GetObject", "sources")},
    ("s3", "head_object"): {("s3:GetObject", "sources"), ("s3:GetObject", "thumbnails")},
    ("s3", "put_object"): {("s3:PutObject", "thumbnails")},
    ("s3", "delete_object"): {("s3:DeleteObject", "thumbnails"), ("s3:GetObject", "thumbnails")},
    ("dynamodb", "get_item"): {("dynamodb:GetItem", "index")},
    ("dynamodb", "put_item"): {("dynamodb:PutItem", "index")},
    ("dynamodb", "update_item"): {("dynamodb:UpdateItem", "index")},
}
WHERE = {
    json.dumps({"Fn::Sub": "${UploadBucket.Arn}/${SourcePrefix}*"}): "sources",
    json.dumps({"Fn::Sub": "${UploadBucket.Arn}/${ThumbnailPrefix}*"}): "thumbnails",
    json.dumps({"Fn::GetAtt": ["IndexTable", "Arn"]}): "index",
}


def test_the_resize_role_grants_exactly_what_its_calls_need(
    template: Template, tmp_path: Path
) -> None:
    """The calls are found in the code the resize image holds (the same walk that trims its
    botocore models); the role must grant each one's actions where it is made, and nothing else
    on S3 or DynamoDB."""
    for name in closure.shipped_files(RESIZE.module):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(closure.ROOT / name, tmp_path / name)
    calls = {
        (service, method)
        for service, uses in botocore_models.used(tmp_path / "handlers").items()
        for method in uses.methods
    }
    assert calls <= set(NEEDS), f"calls this table does not know: {calls - set(NEEDS)}"
    needed = set().union(*(NEEDS[call] for call in calls))
    granted = {
        (action, WHERE[json.dumps(resource)])
        for owner, statement in statements(template)
        if owner == "ResizeRole"
        for action in as_list(statement["Action"])
        if action.startswith(("s3:", "dynamodb:"))
        for resource in as_list(statement["Resource"])
    }
    assert granted == needed


def test_ingest_may_only_write_and_query_readings(template: Template) -> None:
    granted = [s for owner, s in statements(template) if owner == "IngestRole"]
    dynamodb = next(s for s in granted if s["Sid"] == "Readings")
    assert set(dynamodb["Action"]) == {"dynamodb:PutItem", "dynamodb:Query"}
    assert dynamodb["Resource"] == {"Fn::GetAtt": ["ReadingsTable", "Arn"]}


def test_only_the_source_prefix_triggers_resize(template: Template) -> None:
    bucket = template["Resources"]["UploadBucket"]["Properties"]
    notifications = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert tuple(n["Event"] for n in notifications) == NOTIFIED_EVENTS
    for notification in notifications:
        assert notification["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
        assert notification["Filter"]["S3Key"]["Rules"] == [
            {"Name": "prefix", "Value": {"Ref": "SourcePrefix"}}
        ]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert "BucketEncryption" in bucket


def test_the_bucket_refuses_requests_without_tls(template: Template) -> None:
    [policy] = [
        p["Properties"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "UploadBucket"}
    ]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        "*",
        "s3:*",
    )
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["UploadBucket", "Arn"]},
        {"Fn::Sub": "${UploadBucket.Arn}/*"},
    ]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_queue_takes_notifications_from_this_stacks_bucket_only(template: Template) -> None:
    """The bucket's name derives from the stack id, so the queue policy can name it without
    referring to the bucket (which refers to the queue policy: a cycle)."""
    bucket_name = template["Resources"]["UploadBucket"]["Properties"]["BucketName"]
    assert "AWS::StackId" in json.dumps(bucket_name)
    [statement] = template["Resources"]["UploadQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    assert statement["Condition"]["ArnEquals"] == {
        "aws:SourceArn": {
            "Fn::Join": ["", [{"Fn::Sub": "arn:${AWS::Partition}:s3:::"}, bucket_name]]
        }
    }
    assert "*" not in json.dumps(statement["Condition"])
    assert "UploadBucket" not in json.dumps(template["Resources"]["UploadQueuePolicy"])


@pytest.mark.parametrize(
    ("resource", "definition"),
    [("IndexTable", tables.IMAGE_INDEX), ("ReadingsTable", tables.READINGS)],
)
def test_tables_match_the_definitions_the_code_uses(
    template: Template, resource: str, definition: dict[str, Any]
) -> None:
    properties = template["Resources"][resource]["Properties"]
    for key in ("AttributeDefinitions", "KeySchema", "BillingMode"):
        assert properties[key] == definition[key]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    default_name = template["Parameters"][properties["TableName"]["Ref"]]["Default"]
    assert default_name == definition["TableName"]


def test_functions_are_arm64_images_pinned_by_digest(template: Template) -> None:
    for function in resources(template, "AWS::Lambda::Function").values():
        properties = function["Properties"]
        assert (properties["PackageType"], properties["Architectures"]) == ("Image", ["arm64"])
        parameter = template["Parameters"][properties["Code"]["ImageUri"]["Ref"]]
        # Empty only for sam deploy, which puts the image it pushed in Code.ImageUri.
        assert parameter["Default"] == ""
        pattern = re.compile(parameter["AllowedPattern"])
        assert pattern.fullmatch(f"123456789012.dkr.ecr.us-east-1.amazonaws.com/r@{DIGEST}")
        assert pattern.fullmatch("")
        assert not pattern.fullmatch("123456789012.dkr.ecr.us-east-1.amazonaws.com/r:latest")
    ingest = template["Resources"]["IngestFunction"]["Properties"]
    assert ingest["ReservedConcurrentExecutions"] == {"Ref": "IngestReservedConcurrency"}


def test_function_url_defaults_to_iam_auth(template: Template) -> None:
    [(name, url)] = resources(template, "AWS::Lambda::Url").items()
    assert url["Properties"] == {
        "TargetFunctionArn": {"Fn::GetAtt": ["IngestFunction", "Arn"]},
        "AuthType": {"Ref": "FunctionUrlAuthType"},
    }
    auth = template["Parameters"]["FunctionUrlAuthType"]
    assert (auth["Default"], auth["AllowedValues"]) == ("AWS_IAM", ["AWS_IAM", "NONE"])
    public = [
        r
        for r in resources(template, "AWS::Lambda::Permission").values()
        if r["Properties"]["Principal"] == "*"
    ]
    assert {p["Properties"]["Action"] for p in public} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(p["Condition"] == "PublicUrl" for p in public)
    assert template["Outputs"]["FunctionUrl"]["Value"] == {"Fn::GetAtt": [name, "FunctionUrl"]}


def test_device_policy_grants_the_url_of_ingest_only(template: Template) -> None:
    granted = [s for owner, s in statements(template) if owner == "DevicePolicy"]
    assert {a for s in granted for a in as_list(s["Action"])} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(s["Resource"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]} for s in granted)


def resolved(template: Template, value: Any) -> Any:
    """A property's value as deployed with the defaults: a parameter's default, or a table's
    name for a reference to the table."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        if name in template["Parameters"]:
            return template["Parameters"][name]["Default"]
        resource = template["Resources"][name]
        assert resource["Type"] == "AWS::DynamoDB::Table", f"cannot resolve a Ref to {name}"
        return resolved(template, resource["Properties"]["TableName"])
    return value


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_functions_are_deployed_as_the_function_list_defines_them(
    template: Template, function: Function
) -> None:
    properties = template["Resources"][function.logical_id]["Properties"]
    assert properties["Code"]["ImageUri"] == {"Ref": function.image_parameter}
    assert properties["MemorySize"] == {"Ref": function.memory_parameter}
    assert properties["Timeout"] == {"Ref": function.timeout_parameter}
    assert resolved(template, properties["MemorySize"]) == function.memory_mb
    assert resolved(template, properties["Timeout"]) == function.timeout_s
    assert resolved(template, {"Ref": function.repository_parameter}) == function.repository
    assert template["Outputs"][function.output]["Value"] == {"Ref": function.logical_id}

    variables = properties["Environment"]["Variables"]
    assert set(function.environment) <= set(variables) <= set(function.variables)
    for name, value in function.environment.items():
        assert resolved(template, variables[name]) == value, name


def test_the_template_deploys_exactly_the_listed_functions(template: Template) -> None:
    assert set(resources(template, "AWS::Lambda::Function")) == {f.logical_id for f in FUNCTIONS}


def test_the_silence_alarm_watches_readings_stored(template: Template) -> None:
    alarm = template["Resources"]["SilenceAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (metrics.NAMESPACE, metrics.READINGS_STORED)
    assert alarm["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": {"Ref": "IngestFunction"}}]
    # Every minute of the last SilenceMinutes below one reading stored, missing data included.
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 60, 1)
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "SilenceMinutes"}
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
    silence = template["Parameters"]["SilenceMinutes"]
    assert (silence["Default"], silence["MinValue"], silence["MaxValue"]) == (15, 1, 1440)


def test_the_errors_alarm_takes_function_errors_and_5xx_answers(template: Template) -> None:
    alarm = template["Resources"]["IngestErrorsAlarm"]["Properties"]
    watched = {
        query["MetricStat"]["Metric"]["MetricName"]: query["MetricStat"]["Metric"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    assert set(watched) == {"Errors", "Url5xxCount"}
    for metric in watched.values():
        assert metric["Namespace"] == "AWS/Lambda"
        assert metric["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": "IngestFunction"}}
        ]
    [returned] = [query for query in alarm["Metrics"] if query["ReturnData"]]
    assert returned["Expression"] == "MAX([FILL(errors, 0), FILL(server, 0)])"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_email_subscription_is_optional(template: Template) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    [subscription] = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def test_readings_expire_only_with_a_retention(template: Template) -> None:
    retention = template["Parameters"]["RetentionDays"]
    assert (retention["Default"], retention["MinValue"]) == (0, 0)
    assert template["Conditions"]["ExpireReadings"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RetentionDays"}, "0"]}]
    }
    table = template["Resources"]["ReadingsTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {
        "Fn::If": [
            "ExpireReadings",
            {"AttributeName": tables.READINGS_EXPIRES_AT, "Enabled": True},
            {"Ref": "AWS::NoValue"},
        ]
    }
    variables = template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[ingest_settings.RETENTION_DAYS] == {"Ref": "RetentionDays"}


def test_metrics_need_no_grant(template: Template) -> None:
    granted = [s for owner, s in statements(template) if owner == "IngestRole"]
    actions = {a for s in granted for a in as_list(s["Action"])}
    assert not any(a.startswith(("cloudwatch:", "sns:")) for a in actions)


def deploy(moto_template: Path, unique: str, **parameters: str) -> dict[str, Any]:
    cloudformation = boto3.client("cloudformation")
    stack = f"thumbstat-{unique}"
    images = {
        f.image_parameter: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{f.repository}@{DIGEST}"
        for f in FUNCTIONS
    }
    values = {
        **images,
        "IndexTableName": f"image_metadata-{unique}",
        "ReadingsTableName": f"Shop_Thermostat-{unique}",
        **parameters,
    }
    given: list[Any] = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=moto_template.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=given,
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    summaries = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {
        "stack": stack,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        "resources": {s["LogicalResourceId"]: s for s in summaries},
        "template": json.loads(moto_template.read_text()),
        "parameters": values,
    }


@pytest.fixture
def deployed(aws_env: str, moto_template: Path, unique: str) -> dict[str, Any]:
    return deploy(moto_template, unique)


# What moto's CloudFormation accepts but does not create (it records no resource for them).
MOTO_PLACEHOLDERS = {
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
}


def test_every_resource_is_created_on_moto(deployed: dict[str, Any], template: Template) -> None:
    expected = {
        name
        for name, resource in deployed["template"]["Resources"].items()
        if "Condition" not in resource and resource["Type"] not in MOTO_PLACEHOLDERS
    }
    created = {
        name
        for name, summary in deployed["resources"].items()
        if summary["ResourceStatus"] == "CREATE_COMPLETE"
    }
    assert expected <= created
    # Everything not deployed to moto is accounted for.
    left_out = set(template["Resources"]) - set(deployed["template"]["Resources"])
    assert {template["Resources"][n]["Type"] for n in left_out} <= NOT_IN_MOTO


def test_deployed_resources_are_configured(deployed: dict[str, Any]) -> None:
    outputs = deployed["outputs"]
    index = boto3.client("dynamodb").describe_table(TableName=outputs["IndexTableName"])["Table"]
    assert index["KeySchema"] == tables.IMAGE_INDEX["KeySchema"]
    readings = boto3.client("dynamodb").describe_table(TableName=outputs["ReadingsTableName"])[
        "Table"
    ]
    assert readings["KeySchema"] == tables.READINGS["KeySchema"]

    # The bucket's name as moto's CloudFormation resolved it from the stack id.
    stack_id = boto3.client("cloudformation").describe_stacks(StackName=deployed["stack"])[
        "Stacks"
    ][0]["StackId"]
    assert outputs["BucketName"] == "thumbstat-uploads-" + stack_id.split("/")[2]
    assert deployed["resources"]["UploadBucket"]["PhysicalResourceId"] == outputs["BucketName"]

    queue = boto3.client("sqs").get_queue_attributes(
        QueueUrl=outputs["UploadQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert json.loads(queue["RedrivePolicy"])["maxReceiveCount"] == 5

    lambda_ = boto3.client("lambda")
    resize = lambda_.get_function_configuration(FunctionName=outputs["ResizeFunctionName"])
    assert resize["Environment"]["Variables"]["INDEX_TABLE"] == outputs["IndexTableName"]
    assert resize["Environment"]["Variables"]["THUMBNAIL_PREFIX"] == "thumbnails/"
    [mapping] = lambda_.list_event_source_mappings(FunctionName=outputs["ResizeFunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def filled(value: Any, refs: dict[str, str]) -> Any:
    """A template value with its Ref and Fn::Sub of parameters and resources filled in."""
    if isinstance(value, list):
        return [filled(v, refs) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            for name, replacement in refs.items():
                text = text.replace("${" + name + "}", replacement)
            return text
        return {k: filled(v, refs) for k, v in value.items()}
    return value


def test_alarms_and_topic_on_moto(deployed: dict[str, Any], template: Template) -> None:
    """moto's CloudFormation creates the topic but not alarms: each alarm's properties, resolved
    against the deployed stack, go through PutMetricAlarm (checked against botocore's model)."""
    outputs = deployed["outputs"]
    topics = boto3.client("sns").list_topics()["Topics"]
    assert {"TopicArn": outputs["AlarmTopicArn"]} in topics
    refs = {
        **{k: str(v["Default"]) for k, v in template["Parameters"].items() if "Default" in v},
        **deployed["parameters"],
        "IngestFunction": outputs["IngestFunctionName"],
        "AlarmTopic": outputs["AlarmTopicArn"],
    }
    cloudwatch = boto3.client("cloudwatch")
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        properties = filled(alarm["Properties"], refs)
        for key in ("EvaluationPeriods", "DatapointsToAlarm"):
            if key in properties:
                properties[key] = int(properties[key])
        cloudwatch.put_metric_alarm(
            AlarmName=f"{outputs['IngestFunctionName']}-{name}", **properties
        )
    described = {
        a["AlarmName"].rsplit("-", 1)[1]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix=outputs["IngestFunctionName"])[
            "MetricAlarms"
        ]
    }
    silence = described["SilenceAlarm"]
    assert (silence["EvaluationPeriods"], silence["DatapointsToAlarm"]) == (15, 15)
    assert silence["Dimensions"] == [
        {"Name": "FunctionName", "Value": outputs["IngestFunctionName"]}
    ]
    assert silence["AlarmActions"] == [outputs["AlarmTopicArn"]]
    assert len(described["IngestErrorsAlarm"]["Metrics"]) == 3


def test_retention_and_email_parameters_deploy(
    aws_env: str, moto_template: Path, unique: str
) -> None:
    stack = deploy(moto_template, unique, RetentionDays="30", AlarmEmail="owner@example.com")
    function = boto3.client("lambda").get_function_configuration(
        FunctionName=stack["outputs"]["IngestFunctionName"]
    )
    # moto keeps the Number parameter's type; Lambda would hold the string.
    assert str(function["Environment"]["Variables"]["RETENTION_DAYS"]) == "30"
    default = deploy(moto_template, unique + "d")
    function = boto3.client("lambda").get_function_configuration(
        FunctionName=default["outputs"]["IngestFunctionName"]
    )
    assert str(function["Environment"]["Variables"]["RETENTION_DAYS"]) == "0"


def test_the_outputs_the_tooling_reads_are_declared(template: dict[str, Any]) -> None:
    from infra import outputs

    wanted = (outputs.BUCKET, outputs.INDEX_TABLE, outputs.READINGS_TABLE, outputs.UPLOAD_QUEUE)
    assert set(wanted) <= set(template["Outputs"])
