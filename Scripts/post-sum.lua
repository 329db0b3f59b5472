-- wrk: POST /sum with addsvc's request body (go-kit's addsvc wire shape: lower-case a and b).
wrk.method = "POST"
wrk.body   = '{"a":1,"b":2}'
wrk.headers["Content-Type"] = "application/json"
