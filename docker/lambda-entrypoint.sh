#!/bin/sh
# Local runs: without AWS_LAMBDA_RUNTIME_API (outside Lambda), start under the Runtime Interface
# Emulator, so `docker run -p 9000:8080 IMAGE` answers
# POST /2015-03-31/functions/function/invocations.
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
    exec /usr/local/bin/aws-lambda-rie python -m awslambdaric "$@"
fi
exec python -m awslambdaric "$@"
