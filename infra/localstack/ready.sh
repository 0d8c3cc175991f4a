#!/bin/bash
# LocalStack ready hook (mounted into /etc/localstack/init/ready.d/): the same resources, under
# the same names, as the embedded stack (devstack/stack.py) and the deploy template.
set -euo pipefail

BUCKET=thumbstat-uploads
QUEUE=thumbstat-uploads
DEAD_LETTER_QUEUE=thumbstat-uploads-dlq
SOURCE_PREFIX=uploads/

awslocal dynamodb create-table --table-name image_metadata \
    --attribute-definitions AttributeName=id,AttributeType=S \
    --key-schema AttributeName=id,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST
awslocal dynamodb create-table --table-name Shop_Thermostat \
    --attribute-definitions AttributeName=Record_Day,AttributeType=S AttributeName=Record_Date,AttributeType=S \
    --key-schema AttributeName=Record_Day,KeyType=HASH AttributeName=Record_Date,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST

dlq_url=$(awslocal sqs create-queue --queue-name "$DEAD_LETTER_QUEUE" --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn \
    --query Attributes.QueueArn --output text)
redrive="{\"deadLetterTargetArn\":\"$dlq_arn\",\"maxReceiveCount\":\"5\"}"
queue_url=$(awslocal sqs create-queue --queue-name "$QUEUE" --query QueueUrl --output text \
    --attributes "{\"VisibilityTimeout\":\"60\",\"RedrivePolicy\":$(printf '%s' "$redrive" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}")
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn \
    --query Attributes.QueueArn --output text)

awslocal s3 mb "s3://$BUCKET"
awslocal s3api put-bucket-notification-configuration --bucket "$BUCKET" \
    --notification-configuration "{\"QueueConfigurations\":[{\"QueueArn\":\"$queue_arn\",\"Events\":[\"s3:ObjectCreated:*\"],\"Filter\":{\"Key\":{\"FilterRules\":[{\"Name\":\"prefix\",\"Value\":\"$SOURCE_PREFIX\"}]}}}]}"

echo "thumbstat: resources ready"
