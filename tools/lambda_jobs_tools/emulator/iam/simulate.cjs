// The IAM evaluator of `lambda-jobs local`: one long-lived Node.js process answering JSON lines.
// stdin: {"id": n, "simulation": <@cloud-copilot/iam-simulate Simulation>} per line.
// stdout: {"id": n, "result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", "errors": ...}.
// See lambda_jobs/emulator/iam/evaluator.py for why a process that stays up.
'use strict'
const readline = require('node:readline')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

const lines = readline.createInterface({ input: process.stdin, terminal: false })
lines.on('line', async (line) => {
  let id = null
  try {
    const message = JSON.parse(line)
    id = message.id
    const response = await runSimulation(message.simulation, {})
    const answer = { id, result: response.overallResult || null }
    if (response.resultType === 'error') {
      answer.result = null
      answer.errors = response.errors
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, result: null, errors: String(error) }) + '\n')
  }
})
lines.on('close', () => process.exit(0))
