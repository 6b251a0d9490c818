package io.blockloop.it;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import org.testcontainers.containers.startupcheck.StartupCheckStrategy;
import org.testcontainers.utility.DockerStatus;

/**
 * A one-shot startup check: the container counts as "started" once it has exited, whatever its exit code.
 *
 * <p>Unlike Testcontainers' {@code OneShotStartupCheckStrategy}, a non-zero exit does not abort
 * {@code start()}: the test then asserts the exit code itself and puts the container's stdout and stderr in
 * the failure message, which is what one needs to see when a CLI command fails inside a container.
 * The timeout ({@link #withTimeout}) still bounds how long a hung command may run.
 *
 * <p>Threading: stateless; called by Testcontainers on the thread that starts the container.
 */
final class RunToExitStartupCheckStrategy extends StartupCheckStrategy {

    @Override
    public StartupStatus checkStartupState(DockerClient dockerClient, String containerId) {
        InspectContainerResponse.ContainerState state = getCurrentState(dockerClient, containerId);
        return DockerStatus.isContainerStopped(state) ? StartupStatus.SUCCESSFUL : StartupStatus.NOT_YET_KNOWN;
    }
}
