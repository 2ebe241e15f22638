# Parley: one process, no database. docker build -t parley . && docker run -p 8080:8080 -v parley-data:/data parley
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production PUPPETEER_SKIP_DOWNLOAD=1
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY build.mjs tsconfig.json ./
COPY signaling signaling
COPY client client
RUN node build.mjs && mkdir -p /data && chown node /data
USER node
ENV PORT=8080 PARLEY_SECRET_FILE=/data/secret
VOLUME /data
EXPOSE 8080
CMD ["node", "dist/signaling/main.js"]
