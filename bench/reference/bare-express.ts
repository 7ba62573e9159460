// Reference app 1 for make bench: bare Express 5, one route answering "ok". The floor any
// Express app behind the same nginx stands on.
import express from 'express';

const app = express();
app.get('/', (_req, res) => {
  res.send('ok');
});
const port = Number(process.env.PORT);
app.listen(port, '127.0.0.1', () => process.stdout.write(`bare express on ${port}\n`));
