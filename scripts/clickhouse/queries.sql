-- 1. Which machines' model runtimes reached the internet (last 7 days)?
SELECT host, exe, count() AS flows, sum(bytes_out) AS bytes_out,
       groupUniqArray(ifNull(hostname, remote_addr)) AS destinations
FROM telltale.flows FINAL
WHERE role = 'model-runtime' AND scope = 'internet' AND start >= now() - INTERVAL 7 DAY
GROUP BY host, exe
ORDER BY bytes_out DESC
FORMAT TSVWithNames;

-- 2. Top programs by bytes out across the fleet (last 7 days).
SELECT ifNull(exe, concat('(unattributed: ', ifNull(unattributed_reason, '?'), ')')) AS program,
       sum(bytes_out) AS bytes_out, count() AS flows, uniqExact(host) AS machines
FROM telltale.flows FINAL
WHERE start >= now() - INTERVAL 7 DAY
GROUP BY program
ORDER BY bytes_out DESC
LIMIT 10
FORMAT TSVWithNames;

-- 3. New executables this week: first seen on any machine in the last 7 days (by path and hash).
SELECT exe, ifNull(sha256, '') AS sha256, min(start) AS first_seen, groupUniqArray(host) AS machines
FROM telltale.flows FINAL
WHERE exe IS NOT NULL
GROUP BY exe, sha256
HAVING first_seen >= now() - INTERVAL 7 DAY
ORDER BY first_seen
FORMAT TSVWithNames;
