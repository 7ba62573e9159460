import { describe, expect, it } from '@jest/globals';
import { pinnedNodeVersion } from '../lib/node-pin.ts';
import { neededImages } from './standin-images.ts';

describe('neededImages', () => {
  it('when read from the Dockerfile and the compose file, then it names the pinned Node base and every external image, not our own', () => {
    const images = neededImages();

    expect(images).toContain(`node:${pinnedNodeVersion()}-bookworm-slim`);
    expect(images).toEqual(expect.arrayContaining(['nginx:1.27-bookworm', 'redis:7.2-bookworm']));
    expect(images.some((image) => image.startsWith('authstack/'))).toBe(false);
    expect(images.some((image) => /\$|AS /i.test(image))).toBe(false);
  });

  it('when given the active compose profiles, then images of services under other profiles are not needed', () => {
    const all = neededImages();
    const base = neededImages([]);

    expect(base).toEqual(expect.arrayContaining(['nginx:1.27-bookworm', 'redis:7.2-bookworm']));
    expect(base).not.toContain('prom/prometheus:v2.42.0');
    expect(neededImages(['monitoring'])).toContain('prom/prometheus:v2.42.0');
    expect(all).toEqual(expect.arrayContaining(neededImages(['monitoring'])));
  });

  it('when asked for the three-node cluster file, then its engines and registry are needed (YAML merge keys read), and never for the stack', () => {
    const cluster = neededImages([], ['deploy/swarm/cluster.yml']);

    expect(cluster).toEqual(expect.arrayContaining(['docker:20.10-dind', 'registry:2']));
    expect(neededImages()).not.toContain('docker:20.10-dind');
  });
});
