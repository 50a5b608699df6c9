// Read .env texts with one dotenvx major's own parse(): stdin {label: {src, privateKey}},
// stdout {label: parsed | {__error}}. Empty processEnv: nothing from the environment.
const path = require('path')
const major = process.argv[2]
const dotenvx = require(path.resolve(__dirname, 'node_modules', major))
const jobs = JSON.parse(require('fs').readFileSync(0, 'utf8'))
const out = {}
for (const [label, job] of Object.entries(jobs)) {
  try {
    out[label] = dotenvx.parse(job.src, { processEnv: {}, privateKey: job.privateKey || null })
  } catch (e) {
    out[label] = { __error: String(e.message || e) }
  }
}
process.stdout.write(JSON.stringify(out))
